"""The ``probe`` workload: a health check polled on a schedule, measured like a workload.

A probe asks one question every ``every`` (an HTTP endpoint's status, optionally a value in
its JSON body; a command's exit code, optionally a number it prints; or a PromQL query's
value against a bound, :mod:`faultlab.workload.promql`) and records each answer as a request
of its own second: passed (ok), failed, or timed out. SLOs then judge it
through the ordinary SLO kinds, per phase and window, with the same evaluator as any load:
``success_ratio: 100%`` over the probe is "the check passes all the time", ``latency`` over
it is the check's own response time. Polls go out on the open-loop schedule (no drift, a
late poll counted), at most ``ceil(timeout / every)`` at once.

Beyond a status, an exit code and one value, a probe may hold what it reads (the body, or
a command's stdout or stderr) to the checks Chaos Toolkit's tolerances make: ``matches`` (a
regular expression searched in the text), ``between`` (an inclusive range of a number: the
value at ``json_path``, or the text read as a number) and ``jsonpath`` (a JSONPath whose
matches must exist, be ``count`` many, or equal ``expect``). ``faultlab import chaostoolkit``
writes them; they read as well by hand.

A probe that cannot be asked at all is refused when the file is loaded where that can be
known (a command that is not on PATH) or when the run prepares (a query Prometheus rejects);
at run time an HTTP or command probe's every answer that is not a pass is a failure of the
thing probed. A Prometheus probe tells its own failures apart (Prometheus down or slow, a
query rejected, a range vector): those are *probe errors*, counted apart and never judged as
a breach.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from faultlab.experiment.types import (
    Command,
    Duration,
    HeaderName,
    HeaderValue,
    HttpUrl,
    Strict,
)
from faultlab.workload.promql import PrometheusQuery
from faultlab.workload.scheduled import Scheduled
from faultlab.workload.spec import WorkloadSpec, _positive

if TYPE_CHECKING:
    from faultlab.workload.base import WorkloadContext
    from faultlab.workload.stats import Outcome, StatsRecorder

__all__ = ["CommandProbe", "HttpProbe", "JsonPathError", "ProbeWorkload", "RunningProbe",
           "TextChecks", "json_value", "jsonpath_values", "parse_jsonpath"]

JsonScalar = str | int | float | bool | None
MAX_STDOUT = 64 * 1024  # bytes of a command probe's output read; the number is near the top
MAX_BODY = 1 << 20  # bytes of an HTTP probe's body read for its checks


class JsonPathError(ValueError):
    pass


#: one step of a parsed JSONPath: ("key", name), ("index", n), ("all", None), ("deep", name),
#: ("filter", (relative steps, operator or None, literal))
Step = tuple[str, Any]
_NAME = r"[A-Za-z_][\w-]*"
_QUOTED = r"""'[^']*'|"[^"]*\""""
_STEP = re.compile(rf"""\.\.(?P<deep>{_NAME}|\*)|\.(?P<key>{_NAME})|\.(?P<star>\*)
                   |\[\s*(?P<index>-?\d+)\s*\]|\[\s*\*\s*\]
                   |\[\s*(?P<quoted>{_QUOTED})\s*\]
                   |\[\s*\?\s*\(\s*@(?P<rel>(?:\.{_NAME}|\[\s*(?:-?\d+|{_QUOTED})\s*\])*)
                      \s*(?:(?P<op>==|!=|<=|>=|<|>)\s*
                      (?P<lit>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|{_QUOTED}|true|false|null))?
                      \s*\)\s*\]""", re.X)
_REL = re.compile(rf"\.(?P<key>{_NAME})|\[\s*(?P<index>-?\d+)\s*\]|\[\s*(?P<quoted>{_QUOTED})\s*\]")
_OPS: dict[str, Any] = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b,
                        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def parse_jsonpath(path: str) -> tuple[Step, ...]:
    """The steps of a JSONPath of the common subset: ``$``, ``.key``, ``['key']``, ``[n]``
    (negative from the end), ``[*]`` / ``.*``, ``..key`` (every descendant's key) and filters
    ``[?(@.key)]`` (it exists) or ``[?(@.key OP literal)]`` (``==, !=, <, <=, >, >=``; a
    number, a quoted string, true, false or null). Slices and other expressions raise
    :class:`JsonPathError` naming what is not supported."""
    text = path.strip()
    if not text.startswith("$"):
        raise JsonPathError(f"JSONPath {path!r} must start with $ (e.g. $.status)")
    steps: list[Step] = []
    at = 1
    while at < len(text):
        m = _STEP.match(text, at)
        if m is None:
            rest = text[at:]
            what = ("this filter" if rest.startswith("[?") else "slices ([a:b])"
                    if re.match(r"\[\s*-?\d*\s*:", rest) else f"{rest[:20]!r}")
            raise JsonPathError(f"JSONPath {path!r}: {what} not supported (hint: faultlab "
                                "reads $, .key, ['key'], [n], [*], .*, ..key and "
                                "[?(@.key OP value)])")
        if m.group("deep") is not None:
            steps.append(("deep", None if m.group("deep") == "*" else m.group("deep")))
        elif m.group("key") is not None:
            steps.append(("key", m.group("key")))
        elif m.group("quoted") is not None:
            steps.append(("key", m.group("quoted")[1:-1]))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("rel") is not None:
            rel = tuple(("index", int(r.group("index"))) if r.group("index") is not None
                        else ("key", r.group("key") if r.group("key") is not None
                              else r.group("quoted")[1:-1])
                        for r in _REL.finditer(m.group("rel")))
            literal = m.group("lit")
            value = (None if literal is None else literal[1:-1] if literal[0] in "'\""
                     else json.loads(literal))
            steps.append(("filter", (rel, m.group("op"), value)))
        else:
            steps.append(("all", None))
        at = m.end()
    return tuple(steps)


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _descendants(value: Any) -> list[Any]:
    out, todo = [], [value]
    while todo:
        node = todo.pop()
        out.append(node)
        todo.extend(reversed(_children(node)))
    return out


def _step(kind: str, arg: Any, v: Any) -> list[Any]:
    if (kind == "key" and isinstance(v, dict) and arg in v) or (
            kind == "index" and isinstance(v, list) and isinstance(arg, int)
            and -len(v) <= arg < len(v)):
        return [v[arg]]
    if kind == "all":
        return _children(v)
    if kind == "deep":
        out: list[Any] = []
        for d in _descendants(v):
            if arg is None:
                out.extend(_children(d))
            elif isinstance(d, dict) and arg in d:
                out.append(d[arg])
        return out
    if kind == "filter":
        # Chaos Toolkit's jsonpath2 tests the value itself ($.items.*[?(@.up)]); other
        # libraries test a list's items ($.items[?(@.up)]): both read the same here
        if _holds(arg, v):
            return [v]
        return [x for x in v if _holds(arg, x)] if isinstance(v, list) else []
    return []


def _holds(predicate: tuple[tuple[Step, ...], str | None, Any], value: Any) -> bool:
    rel, op, literal = predicate
    found = jsonpath_values(rel, value)
    if not found:
        return False
    if op is None:
        return True
    try:
        return bool(_OPS[op](found[0], literal))
    except TypeError:  # e.g. a string compared with < to a number
        return False


def jsonpath_values(steps: tuple[Step, ...], doc: Any) -> list[Any]:
    """Every value the parsed path matches in ``doc``, in document order."""
    values = [doc]
    for kind, arg in steps:
        values = [x for v in values for x in _step(kind, arg, v)]
    return values


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class TextChecks(Strict):
    """Checks of a text a probe reads (an HTTP body, a command's output), as Chaos Toolkit's
    tolerances make them; every one given must pass."""

    matches: str | None = Field(default=None, min_length=1, max_length=4096, description=(
        "A regular expression (Python's) that must be found in the text."))
    between: tuple[float, float] | None = Field(default=None, description=(
        "[low, high], inclusive: the number the text holds (or the value at json_path) "
        "must be within."))
    jsonpath: str | None = Field(default=None, min_length=1, max_length=512, description=(
        "A JSONPath into the text read as JSON ($, .key, ['key'], [n], [*], .*, ..key, "
        "[?(@.key OP value)]); it must match something, or count/expect say what."))
    count: int | None = Field(default=None, ge=0, description="With jsonpath: how many "
                              "values it must match.")
    expect: list[Any] | None = Field(default=None, description="With jsonpath: the values "
                                     "it must match, in order.")

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"matches: {v!r} is not a regular expression: {e}") from None
        return v

    @field_validator("jsonpath")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None:
            parse_jsonpath(v)
        return v

    @field_validator("between")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (math.isfinite(v[0]) and math.isfinite(v[1]) and v[0] <= v[1]):
            raise ValueError("between is [low, high] with finite low <= high, e.g. [0, 5]")
        return v

    @model_validator(mode="after")
    def _with_path(self) -> TextChecks:
        if (self.count is not None or self.expect is not None) and self.jsonpath is None:
            raise ValueError("count and expect need jsonpath: what they count or compare "
                             "(e.g. jsonpath: $.status, expect: [ok])")
        return self

    def checked(self) -> bool:
        return any(x is not None for x in (self.matches, self.between, self.jsonpath))

    def text_passes(self, text: str, value: tuple[bool, Any] | None = None) -> bool:
        """Whether ``text`` passes; ``value`` is the (found, value) a json_path picked, the
        number ``between`` bounds instead of the whole text."""
        if self.matches is not None and re.search(self.matches, text) is None:
            return False
        if self.between is not None:
            if value is not None:
                found, number = value
            else:
                try:
                    found, number = True, float(text.strip())
                except ValueError:
                    return False
            if not (found and _is_number(number) and math.isfinite(number)
                    and self.between[0] <= number <= self.between[1]):
                return False
        if self.jsonpath is not None:
            try:
                doc = json.loads(text)
            except ValueError:
                return False
            values = jsonpath_values(parse_jsonpath(self.jsonpath), doc)
            if self.count is not None and len(values) != self.count:
                return False
            if self.expect is not None:
                return values == self.expect
            return self.count is not None or bool(values)
        return True


class HttpProbe(TextChecks):
    """Ask a URL; it passes on an expected status, and a JSON value and the body's checks
    if asked."""

    url: HttpUrl = Field(description="The URL asked.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="GET", description="HTTP method.")
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict,
                                                   description="Request headers.")
    body: str | None = Field(default=None, max_length=1 << 20, description="Request body.")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="Statuses that pass (default 200-399).")
    json_path: str | None = Field(default=None, min_length=1, max_length=512,
                                  description="A value in the JSON body, as dotted keys and "
                                  "list indexes, e.g. status or checks.0.state.")
    equals: JsonScalar = Field(default=None, description="With json_path: the value it must "
                               "have (a string, number, true/false; null: it must be null).")

    @model_validator(mode="after")
    def _path_and_value(self) -> HttpProbe:
        # an explicit null without json_path is what a dump of a probe without it holds
        if self.equals is not None and self.json_path is None:
            raise ValueError("equals needs json_path: the value to compare (e.g. json_path: "
                             "status, equals: ok)")
        return self


ExitCode = Annotated[int, Field(ge=0, le=255)]


class CommandProbe(TextChecks):
    """Run a command on this machine; it passes on the expected exit code, a number it
    prints within bounds, and the checks of its output if asked."""

    argv: Command = Field(description="The command and its arguments (run without a shell).")
    expect_exit: ExitCode | list[ExitCode] | Literal["any"] = Field(
        default=0, description="The exit code that passes (or a list of them, or any).")
    stream: Literal["stdout", "stderr"] = Field(default="stdout", description="The output "
                                                "matches, between and jsonpath read.")
    below: float | None = Field(default=None, description="The first number on its stdout "
                                "must be below this.")
    above: float | None = Field(default=None, description="The first number on its stdout "
                                "must be above this.")

    @field_validator("argv")
    @classmethod
    def _on_path(cls, argv: tuple[str, ...]) -> tuple[str, ...]:
        if not argv:
            raise ValueError("a command probe needs a command, e.g. argv: [pg_isready]")
        if shutil.which(argv[0]) is None:
            raise ValueError(f"command {argv[0]!r} not found on PATH (hint: give its full "
                             "path, or install it)")
        return argv


class ProbeWorkload(WorkloadSpec):
    """A health check polled every ``every``; each answer is a request of its second."""

    measured: ClassVar[bool] = True
    kind: Literal["probe"] = "probe"
    every: Duration = Field(default=1.0, description="How often it is asked, e.g. 1s.")
    timeout: Duration = Field(default=2.0, description="How long an answer may take; a "
                              "later one counts as timed out.")
    http: HttpProbe | None = Field(default=None, description="Ask an HTTP endpoint.")
    command: CommandProbe | None = Field(default=None, description="Run a command.")
    prometheus: PrometheusQuery | None = Field(default=None, description="Ask Prometheus a "
                                               "PromQL query and compare it to a bound.")

    @field_validator("every")
    @classmethod
    def _every(cls, v: float) -> float:
        if v < 0.1:
            raise ValueError("a probe is asked at most ten times a second; write every: 100ms "
                             "or more (a load is an http workload)")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _positive(v, "probe")

    @model_validator(mode="after")
    def _one(self) -> ProbeWorkload:
        if sum(x is not None for x in (self.http, self.command, self.prometheus)) != 1:
            raise ValueError("a probe asks one thing: give http: {url: ...}, command: "
                             "{argv: [...]} or prometheus: {url: ..., query: ...}")
        return self


def json_value(body: Any, path: str) -> tuple[bool, Any]:
    """The value at dotted ``path`` in a decoded JSON body: (found, value)."""
    value = body
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _first_number(text: str) -> float | None:
    for word in text.replace(",", " ").split():
        try:
            number = float(word)
        except ValueError:
            continue
        if math.isfinite(number):
            return number
    return None


class RunningProbe(Scheduled):
    """A ``probe`` workload in a run: its polls on the open-loop schedule, each recorded."""

    measured = True
    kind = "probe"

    def __init__(self, name: str, spec: ProbeWorkload, ctx: WorkloadContext) -> None:
        self.name = name
        self.spec = spec
        self._ctx = ctx

    async def prepare(self) -> None:
        query = self.spec.prometheus
        if query is None:
            return
        import asyncio

        import aiohttp

        from faultlab.workload.promql import ask

        async with aiohttp.ClientSession() as session:
            try:
                async with asyncio.timeout(self.spec.timeout):
                    verdict, seen = await ask(session, query)
            except TimeoutError:
                return  # a slow Prometheus is measured by the run, as probe errors
        if verdict == "invalid":
            raise ValueError(f"probe: {seen} (hint: try the query in Prometheus's expression "
                             "browser)")

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        import aiohttp

        from faultlab.workload.openloop import OpenLoop

        if recorder is None:
            raise ValueError(f"workload '{self.name}' is measured: it needs a recorder")
        spec = self.spec
        loop = OpenLoop(1.0 / spec.every, clock=self._ctx.clock, recorder=recorder,
                        max_in_flight=max(1, math.ceil(spec.timeout / spec.every)),
                        noun="polls", cap_reason="the previous polls had not answered")
        self._drive(loop)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:

            async def poll(intended: float, i: int) -> None:
                outcome, error = await self._ask(session)
                if error is not None:
                    recorder.on_error(intended, error)
                else:
                    recorder.on_done(intended, outcome,
                                     max(0.0, self._ctx.clock.now() - intended))

            await loop.run(start, math.inf, poll, origin=origin)

    async def _ask(self, session: Any) -> tuple[Outcome, str | None]:
        """The poll's outcome, and a probe error's message (None: an answer)."""
        import asyncio

        from faultlab.workload.stats import Outcome

        spec = self.spec
        try:
            async with asyncio.timeout(spec.timeout):
                if spec.prometheus is not None:
                    from faultlab.workload.promql import ask

                    verdict, seen = await ask(session, spec.prometheus)
                    if verdict in ("error", "invalid"):
                        return Outcome.PROBE_ERROR, seen
                    return (Outcome.OK if verdict == "ok" else Outcome.FAILED), None
                passed = await (self._http(session) if spec.http is not None
                                else self._command())
        except TimeoutError:
            if spec.prometheus is not None:
                return Outcome.PROBE_ERROR, (f"Prometheus at {spec.prometheus.url} did not "
                                             f"answer within {spec.timeout:g}s")
            return Outcome.TIMED_OUT, None
        return (Outcome.OK if passed else Outcome.FAILED), None

    async def _http(self, session: Any) -> bool:
        import aiohttp

        probe = self.spec.http
        assert probe is not None
        expect = probe.expect_status or range(200, 400)
        try:
            async with session.request(probe.method, probe.url, headers=probe.headers or None,
                                       data=probe.body) as response:
                raw = await response.content.read(MAX_BODY)
                status = response.status
        except (aiohttp.ClientError, OSError):
            return False
        if status not in expect:
            return False
        picked: tuple[bool, Any] | None = None
        if probe.json_path is not None:
            try:
                picked = json_value(json.loads(raw), probe.json_path)
            except ValueError:
                return False
            if ("equals" in probe.model_fields_set or not probe.checked()) and not (
                    picked[0] and picked[1] == probe.equals):
                return False
        return not probe.checked() or probe.text_passes(raw.decode(errors="replace"), picked)

    async def _command(self) -> bool:
        import asyncio
        import contextlib

        probe = self.spec.command
        assert probe is not None
        try:
            proc = await asyncio.create_subprocess_exec(
                *probe.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError:
            return False
        try:
            assert proc.stdout is not None
            assert proc.stderr is not None
            out, err = await asyncio.gather(proc.stdout.read(MAX_STDOUT),
                                            proc.stderr.read(MAX_STDOUT))
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # timed out or cancelled: it must not linger
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.shield(proc.wait())
        codes = (probe.expect_exit if isinstance(probe.expect_exit, list)
                 else [probe.expect_exit])
        if probe.expect_exit != "any" and code not in codes:
            return False
        if probe.checked() and not probe.text_passes(
                (out if probe.stream == "stdout" else err).decode(errors="replace")):
            return False
        if probe.below is None and probe.above is None:
            return True
        number = _first_number(out.decode(errors="replace"))
        return number is not None and (probe.below is None or number < probe.below) and (
            probe.above is None or number > probe.above)
