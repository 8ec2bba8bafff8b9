"""The ``probe`` workload: a health check polled on a schedule, measured like a workload.

A probe asks one question every ``every`` (an HTTP endpoint's status, optionally a value in
its JSON body; or a command's exit code, optionally a number it prints) and records each
answer as a request of its own second: passed (ok), failed, or timed out. SLOs then judge it
through the ordinary SLO kinds, per phase and window, with the same evaluator as any load:
``success_ratio: 100%`` over the probe is "the check passes all the time", ``latency`` over
it is the check's own response time. Polls go out on the open-loop schedule (no drift, a
late poll counted), at most ``ceil(timeout / every)`` at once.

A probe that cannot be asked at all is refused when the file is loaded where that can be
known (a command that is not on PATH); at run time every answer that is not a pass is a
failure of the thing probed. (Probes whose own failure must be told apart from a breach,
such as a PromQL query against a Prometheus that is down, are issue 13's next step.)
"""

from __future__ import annotations

import json
import math
import shutil
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from faultlab.experiment.types import Command, Duration, HttpUrl, Strict
from faultlab.workload.scheduled import Scheduled
from faultlab.workload.spec import WorkloadSpec, _positive

if TYPE_CHECKING:
    from faultlab.workload.base import WorkloadContext
    from faultlab.workload.stats import Outcome, StatsRecorder

__all__ = ["CommandProbe", "HttpProbe", "ProbeWorkload", "RunningProbe", "json_value"]

JsonScalar = str | int | float | bool | None
MAX_STDOUT = 64 * 1024  # bytes of a command probe's output read; the number is near the top


class HttpProbe(Strict):
    """GET (or HEAD) a URL; it passes on an expected status, and a JSON value if asked."""

    url: HttpUrl = Field(description="The URL asked.")
    method: Literal["GET", "HEAD"] = Field(default="GET", description="HTTP method.")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="Statuses that pass (default 200-399).")
    json_path: str | None = Field(default=None, min_length=1, max_length=512,
                                  description="A value in the JSON body, as dotted keys and "
                                  "list indexes, e.g. status or checks.0.state.")
    equals: JsonScalar = Field(default=None, description="With json_path: the value it must "
                               "have (a string, number, true/false; null: it must be null).")

    @model_validator(mode="after")
    def _path_and_value(self) -> HttpProbe:
        if "equals" in self.model_fields_set and self.json_path is None:
            raise ValueError("equals needs json_path: the value to compare (e.g. json_path: "
                             "status, equals: ok)")
        return self


class CommandProbe(Strict):
    """Run a command on this machine; it passes on the expected exit code, and a number it
    prints within bounds if asked."""

    argv: Command = Field(description="The command and its arguments (run without a shell).")
    expect_exit: int = Field(default=0, ge=0, le=255, description="The exit code that passes.")
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
        if (self.http is None) == (self.command is None):
            raise ValueError("a probe asks one thing: give http: {url: ...} or command: "
                             "{argv: [...]}")
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
        pass

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
                outcome = await self._ask(session)
                recorder.on_done(intended, outcome, max(0.0, self._ctx.clock.now() - intended))

            await loop.run(start, math.inf, poll, origin=origin)

    async def _ask(self, session: Any) -> Outcome:
        import asyncio

        from faultlab.workload.stats import Outcome

        try:
            async with asyncio.timeout(self.spec.timeout):
                passed = await (self._http(session) if self.spec.http is not None
                                else self._command())
        except TimeoutError:
            return Outcome.TIMED_OUT
        return Outcome.OK if passed else Outcome.FAILED

    async def _http(self, session: Any) -> bool:
        import aiohttp

        probe = self.spec.http
        assert probe is not None
        expect = probe.expect_status or range(200, 400)
        try:
            async with session.request(probe.method, probe.url) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError):
            return False
        if status not in expect:
            return False
        if probe.json_path is None:
            return True
        try:
            found, value = json_value(json.loads(raw), probe.json_path)
        except ValueError:
            return False
        return found and value == probe.equals

    async def _command(self) -> bool:
        import asyncio
        import contextlib

        probe = self.spec.command
        assert probe is not None
        try:
            proc = await asyncio.create_subprocess_exec(
                *probe.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except OSError:
            return False
        try:
            assert proc.stdout is not None
            out = await proc.stdout.read(MAX_STDOUT)
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # timed out or cancelled: it must not linger
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.shield(proc.wait())
        if code != probe.expect_exit:
            return False
        if probe.below is None and probe.above is None:
            return True
        number = _first_number(out.decode(errors="replace"))
        return number is not None and (probe.below is None or number < probe.below) and (
            probe.above is None or number > probe.above)
