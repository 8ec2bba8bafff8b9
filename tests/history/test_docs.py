"""docs/history.md: its examples are histories the readers accept, its field table is FIELDS."""

from __future__ import annotations

import re
from pathlib import Path

from faultlab.check import MODELS, check_linearizable
from faultlab.history import parse_edn_history, parse_jsonl
from faultlab.history.jepsen_text import parse_text_history
from faultlab.history.jsonl import FIELDS

DOC = (Path(__file__).parents[2] / "docs" / "history.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_the_json_lines_example_is_a_history_the_checker_reads() -> None:
    (example,) = blocks("json")
    history = parse_jsonl(example, "docs/history.md")
    assert [op.index for op in history] == list(range(6))
    assert check_linearizable(history, MODELS["cas-register"]).valid


def test_the_jepsen_examples_read() -> None:
    (edn,) = blocks("clojure")
    assert len(parse_edn_history(edn)) == 2
    txt, log = blocks("text")
    assert [op.outcome.value for op in parse_text_history(txt)] == ["ok", "info", "fail"]
    assert parse_text_history(log)[0].complete_ns == 66_000_000


def test_every_field_is_documented() -> None:
    table = re.findall(r"^\| `(\w+)` \|", DOC, re.M)
    assert table[:len(FIELDS)] == list(FIELDS)
