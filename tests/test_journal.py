"""The journal: secrets never reach the disk; one JSON object per line; torn lines tolerated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultlab.clock import ManualClock
from faultlab.journal import MASK, Event, Journal, Redactor, read_journal

# --- Redactor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "Authorization", "authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "token",
    "access_token", "X-Auth-Token", "client_secret", "password", "DB_PASSWD", "api_key",
    "X-Api-Key", "apikey"])
def test_sensitive_keys_are_masked_whole(key: str) -> None:
    redacted = Redactor().value({key: "Bearer abc.def", "Content-Type": "text/plain"})
    assert redacted == {key: MASK, "Content-Type": "text/plain"}


def test_sensitive_keys_are_masked_at_any_depth_and_other_values_kept() -> None:
    event = {"request": {"headers": {"Cookie": "sid=42", "Accept": "*/*"}},
             "faults": [{"name": "slow", "token": b"raw"}], "tokens_sent": 5}
    assert Redactor().value(event) == {
        "request": {"headers": {"Cookie": MASK, "Accept": "*/*"}},
        "faults": [{"name": "slow", "token": MASK}], "tokens_sent": 5}


@pytest.mark.parametrize(("text", "expected"), [
    ("postgres://app:pw123@db:5432/orders", f"postgres://app:{MASK}@db:5432/orders"),
    ("connect redis://default:s3cr3t@cache:6379 now",
     f"connect redis://default:{MASK}@cache:6379 now"),
    ("http://user@host/path", "http://user@host/path"),  # no password: nothing to hide
    ("http://h/x?a=1&token=zzz&b=2", f"http://h/x?a=1&token={MASK}&b=2"),
    ("http://h/x?API_KEY=k1#frag", f"http://h/x?API_KEY={MASK}#frag"),
    ("http://h/x?access_token=t&sig=abc", f"http://h/x?access_token={MASK}&sig={MASK}"),
    ("http://h/x?page=2&sort=name", "http://h/x?page=2&sort=name"),
])
def test_urls_lose_passwords_and_secret_query_parameters(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_known_secret_values_are_masked_inside_longer_strings() -> None:
    redactor = Redactor(["tok-123456", "tok-123"])
    event = {"command": ["curl", "-H", "X-Custom: tok-123456-suffix"],
             "note": "prefix tok-123 and tok-123456", "n": 3}
    assert redactor.value(event) == {
        "command": ["curl", "-H", f"X-Custom: {MASK}-suffix"],
        "note": f"prefix {MASK} and {MASK}", "n": 3}


def test_too_short_secrets_are_not_masked_everywhere() -> None:
    """A one- or two-character "secret" would shred every message; such values are ignored."""
    assert Redactor(["a", "ok"]).text("a cat is ok") == "a cat is ok"


# --- Journal ----------------------------------------------------------------------------------


def make_journal(path: Path, secrets: tuple[str, ...] = ()) -> tuple[Journal, ManualClock]:
    clock = ManualClock(start=100.0)
    return Journal(path, clock, origin=100.0, redactor=Redactor(secrets)), clock


async def test_journal_writes_one_redacted_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal, clock = make_journal(path, secrets=("hunter22",))
    journal.write(Event.RUN_STARTED, experiment="db-down", seed=7)
    await clock.advance(1.5)
    returned = journal.write(Event.FAULT_INTENT, durable=True, fault="down", kind="down",
                             targets=["link"], params={}, lease=3.0, undo={},
                             headers={"Authorization": "Bearer x"}, note="pw hunter22\nnext")
    journal.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["event"] == "run_started" and records[0]["t"] == 0.0
    assert records[0]["seed"] == 7 and records[0]["wall"] > 1_000_000_000
    assert records[1] == returned
    assert records[1]["t"] == 1.5
    assert records[1]["headers"] == {"Authorization": MASK}
    assert records[1]["note"] == f"pw {MASK}\nnext"
    assert "hunter22" not in path.read_text(encoding="utf-8")


def test_journal_appends_and_refuses_writes_after_close(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first, _ = make_journal(path)
    first.write(Event.NOTE, text="one")
    first.close()
    first.close()  # idempotent
    with pytest.raises(RuntimeError):
        first.write(Event.NOTE, text="too late")
    second, _ = make_journal(path)
    second.write(Event.NOTE, text="two")
    second.close()
    assert [r["text"] for r in read_journal(path)] == ["one", "two"]


def test_journal_writes_enums_paths_and_sets(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal, _ = make_journal(path)
    journal.write(Event.PHASE, phase=Event.VERDICT, where=tmp_path, ids=frozenset({3}))
    journal.close()
    (record,) = read_journal(path)
    assert record["phase"] == "verdict"
    assert record["where"] == str(tmp_path)
    assert record["ids"] == [3]


def test_read_journal_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal, _ = make_journal(path)
    journal.write(Event.FAULT_INTENT, fault="a", kind="down", targets=["t"], params={},
                  lease=1.0, undo={})
    journal.write(Event.FAULT_INJECTED, fault="a")
    journal.close()
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"event":"fault_reverted","fault":"a","t":1.2')  # killed mid-write
    events = [r["event"] for r in read_journal(path)]
    assert events == ["fault_intent", "fault_injected"]


def test_read_journal_skips_garbage_but_keeps_later_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"event":"a"}\n\xff\xfe not json\n[1, 2]\n{"no_event": 1}\n'
                     b'\n{"event":"b"}\n')
    assert [r["event"] for r in read_journal(path)] == ["a", "b"]


def test_redactor_masks_header_pairs_passwords_with_at_and_non_finite_numbers() -> None:
    from faultlab.journal import MASK, Redactor

    r = Redactor()
    out = r.value({"headers": [["Authorization", "Bearer abc"], ["Accept", "text/plain"]],
                   "url": "postgres://bob:p@ss@db.example:5432/x", "p99": float("nan")})
    assert out["headers"] == [["Authorization", MASK], ["Accept", "text/plain"]]
    assert "ss@db" not in out["url"]
    assert out["url"] == f"postgres://bob:{MASK}@db.example:5432/x"
    assert out["p99"] is None


def test_an_event_missing_a_field_its_model_requires_is_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    journal, _ = make_journal(tmp_path / "journal.jsonl")
    with pytest.raises(ValidationError):
        journal.write(Event.FAULT_INTENT, fault="a")  # no undo: recovery could not revert it
    journal.close()
    assert (tmp_path / "journal.jsonl").read_text() == ""
