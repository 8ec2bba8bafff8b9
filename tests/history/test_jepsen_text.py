"""Jepsen's textual histories (history.txt, jepsen.log op lines) import like history.edn."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.check import check_linearizable, get_model
from faultlab.history import HistoryError, Outcome
from faultlab.history.jepsen_text import parse_text_history

HISTORY_TXT = (
    "0\t:invoke\t:write\t3\n"
    "1\t:invoke\t:read\tnil\n"
    "0\t:ok\t:write\t3\n"
    ":nemesis\t:info\t:start\tnil\n"
    "1\t:ok\t:read\t3\n"
    ":nemesis\t:info\t:start\t[:isolated {\"n1\" #{\"n2\"}}]\n"
    "2\t:invoke\t:cas\t[3 4]\n"
    "2\t:fail\t:cas\t[3 4]\tconnection refused\n"
    "3\t:invoke\t:write\t9\n"
)

JEPSEN_LOG = (
    "INFO  [2017-03-20 12:45:01,234] jepsen worker 0 - jepsen.util 0\t:invoke\t:write\t1\n"
    "INFO  [2017-03-20 12:45:01,300] jepsen worker 0 - jepsen.util 0\t:ok\t:write\t1\n"
    "INFO  [2017-03-20 12:45:02,000] jepsen.core - Run complete, writing\n"
    "INFO  [2017-03-20 12:45:01,310] jepsen worker 1 - jepsen.util 1\t:invoke\t:read\tnil\n"
    "INFO  [2017-03-20 12:45:01,320] jepsen worker 1 - jepsen.util 1\t:ok\t:read\t2\n"
)


def test_history_txt_pairs_events_into_operations() -> None:
    history = parse_text_history(HISTORY_TXT, "history.txt")
    by_f = {(op.process, op.f): op for op in history}
    assert by_f[(0, "write")].outcome is Outcome.OK
    assert by_f[(1, "read")].value == 3
    assert by_f[(2, "cas")].outcome is Outcome.FAIL
    assert by_f[(2, "cas")].error == "connection refused"
    assert by_f[(3, "write")].outcome is Outcome.INFO  # never completed
    assert by_f[(3, "write")].complete_ns is None
    assert check_linearizable(history, get_model("cas-register")).valid


def test_jepsen_log_lines_skip_other_log_lines_and_catch_a_stale_read() -> None:
    history = parse_text_history(JEPSEN_LOG, "jepsen.log")
    assert [(op.process, op.f) for op in history.client_ops()] == [(0, "write"), (1, "read")]
    assert not check_linearizable(history, get_model("register")).valid


def test_bad_value_is_located_at_its_field() -> None:
    with pytest.raises(HistoryError) as e:
        parse_text_history("0\t:invoke\t:write\t{bad\n", "h.txt")
    assert str(e.value).startswith("h.txt:1:18:")


def test_text_without_op_lines_is_an_error() -> None:
    with pytest.raises(HistoryError, match=r"h.txt:1:1: no operations \(was the recording "
                                           r"lost\?\): no op lines such as"):
        parse_text_history("just a log line\n", "h.txt")


def test_an_op_line_missing_its_function_is_an_error_not_skipped() -> None:
    with pytest.raises(HistoryError, match=r"h.txt:2:10: expected the function"):
        parse_text_history("0 :invoke :read nil\n0 :invoke\n", "h.txt")


WHITESPACE = st.lists(st.sampled_from([" ", "  ", "\t", " \t ", "\u00a0", "\u3000", "\x0b"]),
                      min_size=1, max_size=3).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_whitespace_separates_fields_as_tabs_do(data: st.DataObject) -> None:
    """Jepsen and Porcupine split op lines at any whitespace; so does faultlab: the same
    events with any separators are the same history as with tabs."""
    rows = [line.split("\t") for line in HISTORY_TXT.strip("\n").split("\n")]
    lines = []
    for row in rows:
        seps = [data.draw(WHITESPACE) for _ in row]
        lines.append(data.draw(st.sampled_from(["", " ", "INFO  jepsen.util - "]))
                     + "".join(field + sep for field, sep in zip(row, seps, strict=True)))
    assert parse_text_history("\n".join(lines)) == parse_text_history(HISTORY_TXT)


def test_log_timestamps_become_times_and_untimed_text_shows_lines() -> None:
    log = parse_text_history(JEPSEN_LOG, "jepsen.log")
    assert [(op.invoke_ns, op.complete_ns) for op in log] == [(0, 66_000_000),
                                                              (76_000_000, 86_000_000)]
    result = check_linearizable(log, get_model("register"))
    assert "[0.076000s–0.086000s]" in result.render() and "0.000000s–0.000000s" not in \
        result.render()
    text = parse_text_history(HISTORY_TXT, "history.txt")
    assert text[0].describe() == "#0 p0 write 3 ok [lines 1–3]"
    assert "s–" not in "\n".join(op.describe() for op in text)


def test_equal_or_backward_timestamps_keep_the_order_of_the_lines() -> None:
    log = "".join(f"INFO  [2017-03-20 12:45:0{s},000] jepsen.util - {p} {t} :write 1\n"
                  for s, p, t in [(5, 0, ":invoke"), (5, 0, ":ok"), (4, 1, ":invoke"),
                                  (6, 1, ":ok")])
    h = parse_text_history(log)
    assert [(op.invoke_ns, op.complete_ns) for op in h] == [(0, 1), (2, 1_000_000_000)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["0", "1", ":nemesis", "x", "{", "2.5", ""]),
                          st.sampled_from([":invoke", ":ok", ":fail", ":info", ":bogus"]),
                          st.sampled_from([":read", ":write", ":cas", "nil", "[", "\""]),
                          st.text(max_size=8)), max_size=12))
def test_fuzzed_text_gives_a_history_or_history_error(
        rows: list[tuple[str, str, str, str]]) -> None:
    text = "\n".join("\t".join(row) for row in rows)
    try:
        parse_text_history(text, "fuzz.txt")
    except HistoryError as e:
        problems = e.problems
    else:
        return
    assert all(str(p).startswith("fuzz.txt:") and "\n" not in str(p) for p in problems)
