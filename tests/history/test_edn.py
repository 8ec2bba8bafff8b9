"""The EDN reader/writer and Jepsen history import/export."""

from __future__ import annotations

import pytest

from faultlab.history import HistoryError, Op, Outcome, parse_edn_history, to_edn
from faultlab.history.edn import EdnSyntaxError, EdnValue, Keyword, Symbol, dumps, loads_all

JEPSEN = """[{:type :invoke, :f :write, :value 3, :process 0, :time 100, :index 0}
{:type :invoke, :f :read, :value nil, :process 1, :time 110}
{:type :info, :f :start, :value nil, :process :nemesis, :time 115}
{:type :ok, :f :write, :value 3, :process 0, :time 120}
{:type :ok, :f :read, :value 3, :process 1, :time 130}
{:type :invoke, :f :cas, :value [3 4], :process 0, :time 140}
{:type :info, :f :cas, :value [3 4], :process 0, :time 150, :error :timeout}
{:type :invoke, :f :write, :value 7, :process 5, :time 160}
{:type :fail, :f :write, :value 7, :process 5, :time 170}
{:type :info, :f :start, :value [:isolated #{"n1"}], :process :nemesis, :time 175}
{:type :invoke, :f :read, :value nil, :process 2, :time 180}]
"""


def test_reads_the_subset_jepsen_writes() -> None:
    forms = loads_all('{:a 1, "s\\t" [1.5 -2 3N 4.0M nil true false]} (x) #{:k} ; note\n'
                      '#_ 5 #inst "2024" \\a \\newline ##Inf')
    assert forms[0] == {Keyword("a"): 1, "s\t": (1.5, -2, 3, 4.0, None, True, False)}
    assert forms[1:] == [(Symbol("x"),), frozenset({Keyword("k")}), "2024", "a", "\n",
                         float("inf")]


@pytest.mark.parametrize(("text", "where", "words"), [
    ("[1 2", "1:1", "never closed"), ("{:a}", "1:1", "even number"),
    ('"abc', "1:1", "unterminated"), ("\n  ]", "2:3", "unexpected ']'"),
    ("12x", "1:1", "bad number"), ('"\\q"', "1:2", "unknown escape"),
    ("[" * 500, "1:202", "nested more than"), ("{{1 2} 3}", "1:1", "cannot be a map key"),
])
def test_bad_edn_is_located(text: str, where: str, words: str) -> None:
    with pytest.raises(EdnSyntaxError) as caught:
        loads_all(text)
    assert str(caught.value).startswith(where) and words in str(caught.value)


def test_dumps_reads_back() -> None:
    value: EdnValue = {Keyword("a"): (1, -2.5, None, True, "q\"\n\\"),
                       "b": frozenset({1, 2})}
    assert loads_all(dumps(value)) == [value]


def test_imports_jepsen_history_pairing_by_process() -> None:
    h = parse_edn_history(JEPSEN)
    by = {(op.process, op.f): op for op in h}
    assert by[(0, "write")] == Op(0, 0, "write", 3, 100, 120, Outcome.OK)
    assert by[(1, "read")].value == 3 and by[(1, "read")].complete_ns == 130
    cas = by[(0, "cas")]
    assert (cas.outcome, cas.value, cas.error) == (Outcome.INFO, (3, 4), "timeout")
    assert by[(5, "write")].outcome is Outcome.FAIL
    assert by[(2, "read")].outcome is Outcome.INFO and by[(2, "read")].complete_ns is None
    assert by[("nemesis", "start")].complete_ns == 175
    assert [op.index for op in h] == list(range(len(h)))


def test_independent_values_must_be_pairs() -> None:
    with pytest.raises(HistoryError, match=r"history.edn:1:1: with independent keys a client "
                                           r"op's :value is \[key value\], found 3"):
        parse_edn_history("{:type :invoke, :f :write, :value 3, :process 0}", "history.edn",
                          independent=True)


def test_long_runs_of_discards_do_not_exhaust_the_stack() -> None:
    assert loads_all("#_ 1 " * 20_000 + "7") == [7]
    assert loads_all("[" + "#_ #_ 1 2 " * 5000 + "]") == [()]


def test_export_of_instant_operations_reads_back() -> None:
    h = parse_edn_history("{:type :invoke, :f :write, :value 1, :process 0, :time 5}\n"
                          "{:type :ok, :f :write, :value 1, :process 0, :time 5}\n"
                          "{:type :invoke, :f :read, :value nil, :process 0, :time 5}\n"
                          "{:type :ok, :f :read, :value 1, :process 0, :time 5}\n")
    assert parse_edn_history(to_edn(h)) == h


def test_untimed_operations_are_described_by_their_lines() -> None:
    h = parse_edn_history("[{:type :invoke, :f :write, :value 1, :process 0}\n"
                          " {:type :ok, :f :write, :value 1, :process 0}\n"
                          " {:type :invoke, :f :read, :process 1}]", "h.edn")
    assert [op.describe() for op in h] == ["#0 p0 write 1 ok [lines 1–2]",
                                           "#1 p1 read info [line 3, never completed]"]
    assert str(h[1].source) == "h.edn:3:2"


def test_export_then_import_is_identity() -> None:
    h = parse_edn_history(JEPSEN)
    assert parse_edn_history(to_edn(h)) == h
    keyed = parse_edn_history("{:type :invoke, :f :write, :value [:k1 5], :process 0, :time 1}"
                              "{:type :ok, :f :write, :value [:k1 5], :process 0, :time 2}",
                              independent=True)
    assert keyed[0].key == "k1" and keyed[0].value == 5
    assert parse_edn_history(to_edn(keyed, independent=True), independent=True) == keyed
    assert parse_edn_history(to_edn(keyed)) == keyed


@pytest.mark.parametrize(("text", "words"), [
    ("{:type :ok, :f :read, :value 1, :process 0, :time 1}", "no invocation"),
    ("{:type :invoke, :f :read, :process 0, :time 1}\n"
     "{:type :invoke, :f :read, :process 0, :time 2}", "two operations open at once"),
    ("{:type :start, :f :read, :process 0, :time 1}", "unknown :type"),
    ("{:type :invoke, :f :read, :process nil, :time 1}", "needs :process"),
    ("[1 2]", "expected an op map"),
    ("{:type :invoke, :f :read, :process 0", "never closed"),
    # times: all or none, integers, in order; values finite; names are not numbers
    ("{:type :invoke, :f :read, :process 0, :time 1}\n{:type :ok, :f :read, :process 0}",
     "has no :time, but the first event has one"),
    ("{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0, :time 9}",
     "has :time, but the first event has none"),
    ("{:type :invoke, :f :read, :process 0, :time 1.5}", "an integer from 0"),
    ("{:type :invoke, :f :read, :process 0, :time -1}", "an integer from 0"),
    ("{:type :invoke, :f :read, :process 0, :time 5}\n{:type :invoke, :f :read, :process 1, "
     ":time 4}", ":time 4 is before :time 5 of the event on line 1"),
    ("{:type :invoke, :f :write, :value ##NaN, :process 0}", "##NaN is not a usable value"),
    ("{:type :invoke, :f :write, :value [1 1e999], :process 0}", "##Inf is not a usable"),
    ('{:type :invoke, :f :write, :value 1, :process "4"}', "looks like a number"),
    ("{:type :invoke, :f :write, :value 1, :process 0}\n"
     "{:type :ok, :f :read, :value 1, :process 0}", "does not match invocation :f :write on "
     "line 1"),
])
def test_bad_jepsen_histories_give_problems(text: str, words: str) -> None:
    with pytest.raises(HistoryError) as caught:
        parse_edn_history(text, "history.edn")
    assert str(caught.value).startswith("history.edn:") and words in str(caught.value)
