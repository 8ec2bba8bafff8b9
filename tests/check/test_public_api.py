"""The public surface of faultlab.history and faultlab.check is locked: change it on purpose."""

from __future__ import annotations

import faultlab.check
import faultlab.history


def test_history_all() -> None:
    assert sorted(faultlab.history.__all__) == sorted([
        "History", "HistoryError", "HistoryProblem", "Key", "Op", "OpHandle", "Outcome",
        "Process", "Recorder", "Source", "Value", "dump_op", "parse_edn_history", "parse_jsonl",
        "read_edn_history", "read_jsonl", "to_edn", "write_edn_history", "write_jsonl"])


def test_check_all() -> None:
    assert sorted(faultlab.check.__all__) == sorted([
        "MODELS", "Anomaly", "AnomalyKind", "Budget", "CheckResult", "Model", "ModelError",
        "Stuck", "Verdict", "Violation", "by_key", "check_bank", "check_counter", "check_file",
        "check_linearizable", "check_queue", "check_set", "check_unique_ids", "get_model",
        "read_history"])
