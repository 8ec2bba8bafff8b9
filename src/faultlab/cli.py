"""The ``faultlab`` command.

Start-up is part of the interface: ``faultlab check`` and ``validate`` should answer before
a person notices a pause. typer alone costs ~100 ms to import and call (it builds a
pydantic adapter per parameter), more than checking a small history, so this module imports
nothing heavy and the quick commands (:data:`QUICK`: ``check``, ``validate``, ``run``,
``version``) are parsed here when the command line is plain: the command, its arguments and
its options, each option once, every value well formed. Anything else (``--help``, a typo,
a value typer would refuse or convert in its own way, every other command) goes to the
typer app in :mod:`faultlab.cli_app`, which prints the same help, the same usage errors
and the same exit codes as before. Both ways call the same command bodies below, so their
messages and exit codes are the same by construction; tests/test_cli.py checks that
:data:`QUICK` and the typer app declare the same options.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from faultlab import __version__

if TYPE_CHECKING:
    import typer

    from faultlab.experiment.loader import LoadedExperiment

    app: typer.Typer

__all__ = ["CHECK_HELP", "EXIT_CODES_HELP", "GROUPS", "QUICK", "check", "echo", "main",
           "mount_groups", "run", "validate"]

EXIT_CODES_HELP = ("Exit codes: 0 hypothesis held; 1 violated; 2 invalid input; "
                   "3 aborted or interrupted; 4 a revert failed, set-up failed, internal error.")

CHECK_HELP = ("Exit codes: 0 valid; 1 invalid (the explanation is printed); 2 invalid or "
              "empty input; 3 unknown (the time or memory budget ran out first, or there was "
              "nothing to check); 4 internal error. Format: docs/history.md.")

#: the command groups: name -> (module of their Typer app, help); a group's module is
#: imported only when the command line names it, so the others cost nothing at start-up
GROUPS = {
    "proxy": ("faultlab.proxy.cli", "The fault-injection proxy server."),
    "lab": ("faultlab.lab.cli", "Clusters on this machine (network namespaces)."),
    "canvas": ("faultlab.canvas.cli", "A model of a system: analyse its weak points before "
               "anything runs."),
    "patterns": ("faultlab.patterns.cli", "Infrastructure patterns: the canvas rules that "
                 "show each missing, and the experiment that checks it."),
    "import": ("faultlab.importers.cli", "Convert experiments of other tools into faultlab's."),
    "export": ("faultlab.slo.cli", "Write faultlab's files in other tools' formats (OpenSLO)."),
}


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, built on first use
        from faultlab import cli_app

        return cli_app.app
    raise AttributeError(f"module 'faultlab.cli' has no attribute {name!r}")


def mount_groups(argv: list[str] | None = None) -> None:
    """Add the command groups to ``app``: the one ``argv`` names for real, the others as
    their name and help only (all of them for real when ``argv`` is None)."""
    from faultlab import cli_app

    cli_app.mount_groups(argv)


# --- output and errors, as click's echo writes them ----------------------------------------

_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def echo(message: str, err: bool = False) -> None:
    """One line to stdout (or stderr), flushed, as ``typer.echo`` writes it: ANSI codes
    stripped unless the stream is a terminal, UTF-8 where the stream says ASCII."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    text = message + "\n"
    isatty = getattr(stream, "isatty", None)
    if not (isatty is not None and isatty()):
        text = _ANSI.sub("", text)
    encoding = (getattr(stream, "encoding", None) or "ascii").lower().replace("-", "")
    binary = getattr(stream, "buffer", None)
    if encoding in ("ascii", "usascii", "646") and binary is not None:
        stream.flush()
        binary.write(text.encode("utf-8", "replace"))
        binary.flush()
        return
    stream.write(text)
    stream.flush()


def _error(message: str, code: int = 2) -> SystemExit:
    echo(f"faultlab: {message}", err=True)
    return SystemExit(code)


def _parse_vars(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _error(f"--var {item!r}: expected NAME=VALUE (e.g. --var port=8080)")
        if name.strip() in out and out[name.strip()] != value:
            raise _error(f"--var {name.strip()} is given twice, as {out[name.strip()]!r} and "
                         f"{value!r} (hint: keep one)")
        out[name.strip()] = value
    return out


def _load(file: Path, variables: Sequence[str]) -> LoadedExperiment:
    from faultlab.experiment import ExperimentError, load_experiment

    try:
        loaded = load_experiment(file, _parse_vars(variables))
    except ExperimentError as e:
        for problem in e.problems:
            echo(str(problem), err=True)
        raise SystemExit(2) from None
    for warning in loaded.warnings:  # valid, probably not meant: said before anything runs
        echo(str(warning), err=True)
    return loaded


# --- the quick commands' bodies (cli_app's commands call them too) -------------------------

def validate(file: Path, var: Sequence[str] = ()) -> None:
    """Check an experiment file without running anything."""
    from faultlab.plugins import skip_pydantic_plugin_scan

    skip_pydantic_plugin_scan()  # before any model is built
    loaded = _load(file, var)
    exp = loaded.experiment
    warned = f", {len(loaded.warnings)} warning(s)" if loaded.warnings else ""
    echo(f"{file}: ok: experiment '{exp.name}', {len(exp.targets)} targets, "
         f"{len(exp.faults)} faults, {len(exp.slos)} SLOs{warned}")


def run(file: Path | None = None, var: Sequence[str] = (), *, runs_dir: Path = Path("runs"),
        run_dir: Path | None = None, seed: int | None = None, quiet: bool = False,
        dry_run: bool = False, from_run: Path | None = None, metrics: str | None = None
        ) -> None:
    """Run an experiment: start the system, drive load, inject faults, judge, revert."""
    from faultlab.plugins import skip_pydantic_plugin_scan

    skip_pydantic_plugin_scan()  # before any model is built
    address = None
    if metrics is not None:
        from faultlab.run.metrics import MetricsError, parse_address

        try:
            address = parse_address(metrics)
        except MetricsError as e:
            raise _error(str(e)) from None
    if (file is None) == (from_run is None):
        raise _error("give an experiment FILE or --from RUN_DIR (hint: faultlab run exp.yaml)")
    if from_run is not None:
        from faultlab.run.rerun import RerunError, load_past_run

        try:
            loaded, past_seed = load_past_run(from_run, _parse_vars(var))
        except RerunError as e:
            raise _error(str(e)) from None
        seed = past_seed if seed is None else seed
    else:
        assert file is not None
        loaded = _load(file, var)
    if dry_run:
        import asyncio

        from faultlab import startup
        from faultlab.run.dryrun import dry_run as do_dry_run

        startup.settle()
        result = asyncio.run(do_dry_run(loaded, seed))
        echo(result.render())
        raise SystemExit(0 if result.ok else 2)
    if run_dir is not None and (run_dir / "journal.jsonl").exists():
        raise _error(f"{run_dir}: already holds a run (hint: give a new --run-dir, or use "
                     "--runs-dir to get a fresh one)")
    from faultlab.run.execute import execute

    code = execute(loaded, run_dir=run_dir, runs_dir=runs_dir, seed=seed, quiet=quiet,
                   metrics=address)
    raise SystemExit(code)


def check(history: Path, *, model: str = "cas-register", checker: str = "linearizable",
          time_limit: float = 60.0, independent: bool = False) -> None:
    """Check a history and explain any violation (exit codes: :data:`CHECK_HELP`)."""
    import math

    from faultlab.check import (
        Budget,
        ModelError,
        check_bank,
        check_counter,
        check_linearizable,
        check_queue,
        check_set,
        get_model,
        read_history,
    )
    from faultlab.history import HistoryError

    if not (math.isfinite(time_limit) and time_limit > 0):
        raise _error(f"--time-limit {time_limit:g}: expected a finite number of seconds above "
                     "zero (hint: e.g. --time-limit 30)")
    try:
        linear_model = get_model(model)
    except ValueError as e:
        raise _error(f"--model: {e}") from None
    runners = {
        "linearizable": lambda ops: check_linearizable(ops, linear_model,
                                                       Budget(time_s=time_limit)),
        "set": check_set, "queue": check_queue, "counter": check_counter, "bank": check_bank,
    }
    if checker not in runners:
        raise _error(f"unknown checker {checker!r} (hint: one of {', '.join(runners)})")
    from faultlab import startup

    startup.settle()
    try:
        result = runners[checker](read_history(history, independent=independent))
    except (HistoryError, ModelError) as e:  # bad input: one located line per problem
        for line in str(e).splitlines() or [str(e)]:
            echo(line if line.startswith(f"{history}:") else f"{history}: {line}", err=True)
        raise SystemExit(2) from None
    except Exception as e:  # a bug in faultlab: one line, never a traceback
        raise _error(f"internal error: {type(e).__name__}: {e} (hint: this is a bug; please "
                     "report it with the history file)", 4) from None
    echo(result.render())
    raise SystemExit({"valid": 0, "invalid": 1}.get(result.verdict.value, 3))


def version() -> None:
    """Print faultlab's version."""
    echo(__version__)


# --- the quick commands' own parser --------------------------------------------------------

_INT = re.compile(r"-?[1-9][0-9]{0,17}|0")
_FLOAT = re.compile(r"[0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15}")


def _path(text: str) -> Path | None:
    return Path(text) if text and text != "-" else None


def _int(text: str) -> int | None:
    return int(text) if _INT.fullmatch(text) else None


def _float(text: str) -> float | None:
    return float(text) if _FLOAT.fullmatch(text) else None


def _str(text: str) -> str:
    return text


class Opt(NamedTuple):
    """An option of a quick command: its names, the body's parameter, how a value is read
    (``None`` when the text is one the fast path leaves to typer; no ``parse``: a flag)."""

    names: tuple[str, ...]
    dest: str
    parse: Callable[[str], object] | None = None
    multiple: bool = False
    off: tuple[str, ...] = ()  # a flag's names that turn it off (--no-independent)


class Quick(NamedTuple):
    body: Callable[..., None]
    arguments: tuple[str, ...]  # the body's positional parameters, in order
    required: int  # how many of them the command line must give
    options: tuple[Opt, ...] = ()


_VAR = Opt(("--var", "-v"), "var", _str, multiple=True)

#: the commands parsed without typer, and their options (the same as cli_app's)
QUICK = {
    "validate": Quick(validate, ("file",), 1, (_VAR,)),
    "check": Quick(check, ("history",), 1, (
        Opt(("--model",), "model", _str), Opt(("--checker",), "checker", _str),
        Opt(("--time-limit",), "time_limit", _float),
        Opt(("--independent",), "independent", off=("--no-independent",)))),
    "run": Quick(run, ("file",), 0, (
        _VAR, Opt(("--runs-dir",), "runs_dir", _path), Opt(("--run-dir",), "run_dir", _path),
        Opt(("--seed",), "seed", _int), Opt(("--quiet", "-q"), "quiet"),
        Opt(("--dry-run",), "dry_run"), Opt(("--from",), "from_run", _path),
        Opt(("--metrics",), "metrics", _str))),
    "version": Quick(version, (), 0),
}


def parse_quick(argv: Sequence[str]) -> tuple[Callable[..., None], list[Any], dict[str, Any]
                                               ] | None:
    """The body and its arguments for a plain command line of a quick command; None for
    anything typer should see (help, unknown or repeated options, a value that starts with
    '-', a value the option's parser leaves to typer, missing or extra arguments)."""
    if not argv or argv[0] not in QUICK or "_FAULTLAB_COMPLETE" in os.environ:
        return None
    quick = QUICK[argv[0]]
    by_name = {n: o for o in quick.options for n in (*o.names, *o.off)}
    positional: list[Any] = []
    values: dict[str, Any] = {}
    tokens = list(argv[1:])
    while tokens:
        token = tokens.pop(0)
        if token in ("--help", "--") or token == "-":
            return None
        if not token.startswith("-"):
            arg = _path(token)
            if arg is None:
                return None
            positional.append(arg)
            continue
        name, eq, text = token.partition("=") if token.startswith("--") else (token, "", "")
        opt = by_name.get(name)
        if opt is None or (opt.dest in values and not opt.multiple):
            return None
        if opt.parse is None:  # a flag
            if eq:
                return None
            values[opt.dest] = name not in opt.off
            continue
        if not eq:
            if not tokens or tokens[0].startswith("-"):
                return None
            text = tokens.pop(0)
        value = opt.parse(text)
        if value is None:
            return None
        if opt.multiple:
            values.setdefault(opt.dest, []).append(value)
        else:
            values[opt.dest] = value
    if not quick.required <= len(positional) <= len(quick.arguments):
        return None
    return quick.body, positional, values


def main() -> None:
    from faultlab import startup

    startup.hold()  # until the command starts its work (startup.settle)
    quick = parse_quick(sys.argv[1:])
    if quick is None:
        from faultlab import cli_app

        cli_app.mount_groups(sys.argv[1:])
        startup.settle()  # every other command: before typer calls it
        cli_app.app(prog_name="faultlab")
        return
    body, args, kwargs = quick
    try:
        body(*args, **kwargs)
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # as typer: no traceback
    except EOFError:
        echo("", err=True)
        echo("Aborted!", err=True)
        raise SystemExit(1) from None
    except BrokenPipeError:
        # as click: the reader went away; say nothing more (not even at exit)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
    sys.exit(0)
