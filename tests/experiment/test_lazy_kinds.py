"""Kinds are loaded and validated one by one (plugins.ByKind, Registry's index), and a file
gets exactly what the discriminated union of every kind would give it: the same problems,
word for word, and the same experiment."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.demo.suite import experiment_files
from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.experiment.loader import _experiment_checks, read_document_text
from faultlab.experiment.model import union_model
from faultlab.plugins import PluginError, Registry, declared_groups

BROKEN = Path(__file__).parent / "broken"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: entries of faults:, workloads: and hosts: that each take another path through ByKind
ODD_ENTRIES = {
    "fault-typo": "faults:\n  - {target: db, kind: latency, delai: 100ms}\n",
    "fault-kind-typo": "faults:\n  - {target: db, kind: latncy, delay: 1s}\n",
    "fault-no-kind": "faults:\n  - {target: db, delay: 1s}\n",
    "fault-kind-number": "faults:\n  - {target: db, kind: 5}\n",
    "fault-kind-null": "faults:\n  - {target: db, kind: }\n",
    "fault-kind-list": "faults:\n  - {target: db, kind: [latency]}\n",
    "fault-not-a-mapping": "faults:\n  - latency\n  - [1, 2]\n  - 3\n",
    "faults-not-a-list": "faults: {kind: latency}\n",
    "fault-good-and-bad": ("faults:\n  - {target: db, kind: latency, delay: 1s}\n"
                           "  - {target: db, kind: kill, signal: SIGNOPE}\n"
                           "  - {target: db, kind: latency, delay: 1s, jitter: -1s}\n"),
    "workload-typo": ("workloads:\n  w: {kind: http, url: 'http://127.0.0.1:1/', rate: 10/s,"
                      " timout: 1s}\n"),
    "workload-unknown": "workloads:\n  w: {kind: htp, url: 'http://127.0.0.1:1/'}\n",
    "workload-no-kind": "workloads:\n  w: {url: 'http://127.0.0.1:1/', rate: 5/s}\n",
    "workload-null": "workloads:\n  w:\n",
    "host-typo": "hosts:\n  h1: {kind: lab, lab: x, hots: y}\n",
    "host-no-kind": "hosts:\n  h1: {lab: x}\n",
    "everything-at-once": ("hosts:\n  h1: {kind: lab, lab: x, hots: y}\n"
                           "workloads:\n  w: {kind: http, url: 'ftp://x', rate: 10/s}\n"
                           "faults:\n  - {target: db, kind: latency, delai: 100ms}\n"),
}
HEAD = ("name: odd\ntargets:\n"
        "  db: {proxy: {listen: '127.0.0.1:7000', upstream: '127.0.0.1:7001'}}\n")


def _problems(text: str, source: str, union: bool) -> list[str] | str:
    """Every problem as printed, or the experiment as JSON if the file is valid."""
    try:
        if union:
            value = read_document_text(text, source, union_model(),
                                       check=_experiment_checks).value
        else:
            value = load_experiment_text(text, source).experiment
    except ExperimentError as e:
        return [str(p) for p in e.problems]
    return json.dumps(value.model_dump(mode="json"), sort_keys=True)


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_files_get_the_unions_problems(path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.delenv("FAULTLAB_TEST_UNSET_TOKEN", raising=False)
    text = path.read_text(encoding="utf-8")
    got = _problems(text, path.name, union=False)
    assert isinstance(got, list) and got
    assert got == _problems(text, path.name, union=True)


@pytest.mark.parametrize("name", sorted(ODD_ENTRIES))
def test_odd_entries_get_the_unions_problems(name: str) -> None:
    text = HEAD + ODD_ENTRIES[name]
    got = _problems(text, f"{name}.yaml", union=False)
    assert isinstance(got, list) and got, "each of these files is wrong"
    assert got == _problems(text, f"{name}.yaml", union=True)


# random entries of faults:, workloads: and hosts: (known kinds, typos, none, odd values)
_KINDS = ("latency", "kill", "command", "pause", "partition", "http_abort", "latncy", "",
          "http", "probe", "history", "lab", "local")
_KEYS = ("kind", "target", "delay", "jitter", "duration", "start", "signal", "inject", "url",
         "rate", "lab", "name", "stream", "timeout", "delai")
_VALUES = st.one_of(st.sampled_from(_KINDS), st.sampled_from(
    ("db", "1s", "100ms", "-1s", "SIGKILL", "SIGNOPE", "true", "http://127.0.0.1:1/", "5/s",
     "upstream")), st.integers(-2, 3), st.none(), st.lists(st.sampled_from(_KINDS), max_size=2))
_ENTRY = st.one_of(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5),
                   st.fixed_dictionaries({"kind": st.sampled_from(_KINDS)},
                                         optional=dict.fromkeys(_KEYS[1:], _VALUES)),
                   _VALUES)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faults=st.lists(_ENTRY, max_size=3),
       workloads=st.dictionaries(st.sampled_from(("w", "v")), _ENTRY, max_size=2),
       hosts=st.dictionaries(st.sampled_from(("h1", "h2")), _ENTRY, max_size=2))
def test_random_entries_get_the_unions_problems(faults: list[Any], workloads: dict[str, Any],
                                                hosts: dict[str, Any]) -> None:
    doc: dict[str, Any] = {"faults": faults, "workloads": workloads, "hosts": hosts}
    text = HEAD + yaml.safe_dump({k: v for k, v in doc.items() if v})
    assert _problems(text, "random.yaml", union=False) == _problems(text, "random.yaml",
                                                                    union=True)


def _valid_files() -> list[Path]:
    examples = [p for p in EXAMPLES.rglob("*.yaml") if p.parent.name != "canvas"]
    return sorted([*experiment_files().values(), *examples])


@pytest.mark.parametrize("path", _valid_files(), ids=lambda p: p.stem)
def test_valid_files_load_as_the_union_loads_them(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    union = _problems(text, path.name, union=True)
    assert isinstance(union, str), union
    assert _problems(text, path.name, union=False) == union


def test_a_file_imports_only_the_fault_kinds_it_names() -> None:
    code = textwrap.dedent("""\
        import json, sys
        from faultlab.experiment import load_experiment_text
        from faultlab.faults.kinds import KINDS
        load_experiment_text('''
        name: two
        targets:
          db: {proxy: {listen: '127.0.0.1:7000', upstream: '127.0.0.1:7001'}}
          victim: {process: {pidfile: /nonexistent}}
        faults:
          - {target: db, kind: latency, delay: 1s, duration: 5s}
          - {target: victim, kind: kill}
        ''')
        kinds = {name for name, where in KINDS.items() if where.split(':')[0] in sys.modules}
        print(json.dumps(sorted(kinds)))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["kill", "latency"]


# --- the registry: builtins by index, plug-ins by entry point ---------------------------------

@dataclass(frozen=True)
class Item:
    name: str
    origin: str = "builtin"


def _package(root: Path, module: str, source: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path with two builtin-like modules (one kind each)."""
    root = tmp_path / "site"
    root.mkdir()
    for name in ("alpha", "beta"):
        _package(root, f"lazy_{name}_{tmp_path.name}", f"""\
            from dataclasses import dataclass

            @dataclass(frozen=True)
            class Item:
                name: str
                origin: str = "builtin"

            KIND = Item("{name}")
            """)
    monkeypatch.syspath_prepend(str(root))
    return root


def _registry(site: Path, group: str = "faultlab.test-none") -> Registry[Item]:
    suffix = site.parent.name
    return Registry("test kind", group, index={
        "alpha": f"lazy_alpha_{suffix}:KIND", "beta": f"lazy_beta_{suffix}:KIND"})


def _plugin(site: Path, group: str, value: str, module_source: str) -> None:
    info = site / "lazy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lazy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{value}\n")
    _package(site, f"lazy_plugin_{site.parent.name}", module_source)


def test_an_index_kind_is_imported_when_first_named(site: Path) -> None:
    registry = _registry(site)
    beta = f"lazy_beta_{site.parent.name}"
    assert registry.names() == ("alpha", "beta")
    assert beta not in sys.modules
    assert registry["alpha"].name == "alpha"
    assert beta not in sys.modules
    assert registry.get("gamma") is None and beta not in sys.modules
    assert [k.name for k in registry] == ["alpha", "beta"]
    assert beta in sys.modules


def test_a_second_kind_of_a_builtins_name_is_refused_and_unregister_sticks(site: Path
                                                                           ) -> None:
    registry = _registry(site)
    with pytest.raises(PluginError, match="'alpha' is registered twice"):
        registry.register(Item("alpha", "mine"))
    registry.register(Item("gamma"))
    assert registry.names() == ("alpha", "beta", "gamma")
    registry.unregister("alpha")
    assert registry.get("alpha") is None  # not imported again
    assert registry.names() == ("beta", "gamma")


def test_a_plugin_replaces_a_builtin_which_is_then_never_imported(site: Path) -> None:
    group = f"faultlab.test-{site.parent.name}"
    suffix = site.parent.name
    _plugin(site, group, f"alpha = lazy_plugin_{suffix}:KIND", """\
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Item:
            name: str
            origin: str = "plugin"

        KIND = Item("alpha")
        """)
    groups = declared_groups()
    assert groups is not None and group in groups
    registry = _registry(site, group)
    assert registry["alpha"].origin == "plugin"
    assert registry.names() == ("alpha", "beta")
    assert [k.origin for k in registry] == ["plugin", "builtin"]
    assert f"lazy_alpha_{suffix}" not in sys.modules


def test_a_broken_plugin_is_logged_and_skipped(site: Path, caplog: pytest.LogCaptureFixture
                                               ) -> None:
    group = f"faultlab.test-{site.parent.name}"
    _plugin(site, group, f"delta = lazy_plugin_{site.parent.name}:KIND",
            "raise RuntimeError('broken on purpose')\n")
    registry = _registry(site, group)
    with caplog.at_level(logging.WARNING, logger="faultlab.plugins"):
        assert registry.names() == ("alpha", "beta")
    assert "delta" in caplog.text and "broken on purpose" in caplog.text


def test_declared_groups_hold_every_group_importlib_metadata_finds() -> None:
    groups = declared_groups()
    assert groups is not None
    found = {ep.group for dist in distributions() for ep in dist.entry_points}
    assert found and found <= groups


# --- pydantic's own plug-in search, skipped when no distribution declares one ---------------

def test_pydantic_reads_only_get_plugins_from_its_loader() -> None:
    """skip_pydantic_plugin_scan replaces pydantic.plugin._loader by a module holding only
    get_plugins(): true of this pydantic as long as nothing else of it imports the loader."""
    import pydantic

    root = Path(pydantic.__file__).parent
    uses = sorted({line.strip() for path in root.rglob("*.py") if path.name != "_loader.py"
                   for line in path.read_text(encoding="utf-8").splitlines()
                   if "_loader" in line and "import" in line})
    assert uses == ["from ._loader import get_plugins"]


_PYDANTIC_PLUGIN = '''
import os


class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        with open(os.environ["MARKER"], "a") as f:
            f.write(schema_type_path.name + "\\n")
        return None, None, None


plugin = Plugin()
'''


def test_validate_searches_pydantic_plugins_only_where_one_is_declared(tmp_path: Path
                                                                       ) -> None:
    import os

    experiment = tmp_path / "e.yaml"
    experiment.write_text("name: e\nfaults:\n  - {kind: command, inject: 'true'}\n")
    probe = ("import json, sys\nfrom faultlab.cli import main\n"
             "sys.argv = ['faultlab', 'validate', sys.argv[1]]\n"
             "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
             "print(json.dumps('importlib.metadata' in sys.modules))\n")
    marker = tmp_path / "validators.txt"
    env = {**os.environ, "MARKER": str(marker)}

    def validate() -> bool:
        done = subprocess.run([sys.executable, "-c", probe, str(experiment)], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return bool(json.loads(done.stdout.splitlines()[-1]))

    assert validate() is False  # nothing declares a pydantic plug-in on this path
    assert not marker.exists()
    site = tmp_path / "site"
    site.mkdir()
    (site / "marker_pydantic_plugin.py").write_text(_PYDANTIC_PLUGIN)
    info = site / "marker_pydantic_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: marker-pydantic-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pydantic]\nmarker = marker_pydantic_plugin:plugin\n")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    assert validate() is True
    assert "Experiment" in marker.read_text().split()  # the plug-in saw the models built
