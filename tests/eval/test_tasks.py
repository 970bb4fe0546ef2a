"""Clinical task labels: unknowns are NaN exactly where the manifest does not know."""

import numpy as np
import pyarrow as pa
import pytest

from neuronarrator.clinical.findings import CODES, STATES
from neuronarrator.eval.tasks import clinical_tasks, task_names, usable_tasks

NAN = np.nan


def _table(rows: list[dict]) -> pa.Table:
    defaults = {"source": "phantom", "codes": [], "state": None, "impression": None, "labels_complete": True,
                "age_years": None, "sex": None, "atc": []}  # fmt: skip
    return pa.Table.from_pylist([{**defaults, **row} for row in rows])


def _same(actual: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_array_equal(actual, np.array(expected, dtype=float))  # NaN == NaN here


def test_task_names_cover_every_code_and_state():
    tasks = clinical_tasks(_table([{}]))
    assert list(tasks) == task_names()
    assert {f"finding:{c}" for c in CODES} | {f"state:{s}" for s in STATES} <= set(tasks)
    assert {"impression:abnormal", "age:65+", "age:<40", "sex:female", "medication:antiseizure",
            "medication:benzodiazepine"} <= set(tasks)  # fmt: skip


def test_findings_unknown_only_when_labels_incomplete_and_absent():
    table = _table([
        {"codes": ["pdr"], "labels_complete": True},
        {"codes": [], "labels_complete": True},
        {"codes": ["seizure"], "labels_complete": False},
        {"codes": ["pdr"], "labels_complete": False},
        {"codes": [], "labels_complete": None},
    ])  # fmt: skip
    tasks = clinical_tasks(table)
    _same(tasks["finding:pdr"], [1, 0, NAN, 1, NAN])
    _same(tasks["finding:seizure"], [0, 0, 1, NAN, NAN])


def test_impression_state_age_sex():
    table = _table([
        {"impression": "abnormal", "state": "awake", "age_years": 70.0, "sex": "female"},
        {"impression": "normal", "state": "n2", "age_years": 39.9, "sex": "male"},
        {"impression": None, "state": None, "age_years": None, "sex": None},
        {"impression": "normal", "state": "awake", "age_years": 65.0, "sex": "female"},
        {"impression": "normal", "state": "drowsy", "age_years": 40.0, "sex": "male"},
    ])  # fmt: skip
    tasks = clinical_tasks(table)
    _same(tasks["impression:abnormal"], [1, 0, NAN, 0, 0])
    _same(tasks["state:awake"], [1, 0, NAN, 1, 0])
    _same(tasks["state:n2"], [0, 1, NAN, 0, 0])
    _same(tasks["state:rem"], [0, 0, NAN, 0, 0])
    _same(tasks["age:65+"], [1, 0, NAN, 1, 0])
    _same(tasks["age:<40"], [0, 1, NAN, 0, 0])
    _same(tasks["sex:female"], [1, 0, NAN, 1, 0])


def test_medications_from_atc_hierarchy_and_recorded_sources():
    table = _table([
        {"source": "phantom", "atc": ["N03AX14"]},             # levetiracetam
        {"source": "phantom", "atc": ["N03AE01"]},             # clonazepam: a benzodiazepine, not counted as ASM
        {"source": "phantom", "atc": ["N03AX09", "N05BA01"]},  # lamotrigine + diazepam
        {"source": "phantom", "atc": []},                      # EHR records medications: none taken
        {"source": "tuh", "atc": ["C07AB02"]},                 # metoprolol only
        {"source": "chbmit", "atc": []},                       # no medication record: unknown
        {"source": "edf", "atc": None},
        {"source": "edf", "atc": ["N03AG01"]},                 # a listed drug is known wherever it comes from
    ])  # fmt: skip
    tasks = clinical_tasks(table)
    _same(tasks["medication:antiseizure"], [1, 0, 1, 0, 0, NAN, NAN, 1])
    _same(tasks["medication:benzodiazepine"], [0, 1, 1, 0, 0, NAN, NAN, 0])
    # a caller may say that another source records medications
    _same(clinical_tasks(table, medication_sources={"chbmit"})["medication:antiseizure"],
          [1, 0, 1, NAN, 0, 0, NAN, 1])  # fmt: skip


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="atc"):
        clinical_tasks(_table([{}]).drop(["atc"]))


def test_usable_tasks_needs_both_classes_on_both_sides():
    train = {
        "ok": np.array([1, 1, 1, 0, 0, 0, NAN]),
        "few_pos_train": np.array([1, 1, 0, 0, 0, 0, 0]),
        "nan_hides": np.array([1, 1, 1, NAN, NAN, 0, 0]),
        "few_eval": np.array([1, 1, 1, 0, 0, 0, 0]),
    }
    evaluation = {
        "ok": np.array([1, 1, 1, 0, 0, 0]),
        "few_pos_train": np.array([1, 1, 1, 0, 0, 0]),
        "nan_hides": np.array([1, 1, 1, 0, 0, 0]),
        "few_eval": np.array([1, 1, 1, 0, 0, NAN]),
        "eval_only": np.array([1, 1, 1, 0, 0, 0]),
    }
    kept, skipped = usable_tasks(train, evaluation, min_per_class=3)
    assert kept == ["ok"]
    assert set(skipped) == {"few_pos_train", "nan_hides", "few_eval", "eval_only"}
    assert skipped["few_pos_train"].startswith("train: 2 positive")
    assert skipped["few_eval"].startswith("eval: 3 positive and 2 negative")
    assert skipped["eval_only"] == "no training labels"
    kept, _ = usable_tasks(train, evaluation, min_per_class=2)
    assert kept == ["ok", "few_pos_train", "nan_hides", "few_eval"]
