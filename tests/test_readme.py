"""The README's experiment examples are valid experiments (a user copies them)."""

from __future__ import annotations

import re
from pathlib import Path

from faultlab.experiment import load_experiment_text

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_full_example_in_the_readme_loads() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    full = [b for b in blocks if b.startswith("version: 1")]
    assert full
    for block in full:
        load_experiment_text(block, "README.md")


def test_the_schedule_example_loads_into_an_experiment() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    (schedule,) = [b for b in blocks if b.startswith("schedule:")]
    text = ("version: 1\nname: s\nfaults:\n  - {name: slow, kind: command, inject: 'true'}\n"
            "  - {name: flag, kind: command, inject: 'true'}\n" + schedule)
    exp = load_experiment_text(text, "README.md").experiment
    assert exp.schedule.random is not None and exp.schedule.random.max_active == 1
