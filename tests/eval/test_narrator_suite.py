"""``neuronarrator evaluate --suite narrator`` end to end: tiny stage-1 and narrator checkpoints trained
through the CLI on a tiny phantom corpus, scored on its test split and a tiny shifted corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHARED_EEGMMI = (Path(__file__).resolve().parents[2] / "../shared/data/eegmmidb/S001R01.edf").resolve()
METRIC_KEYS = ("macro_f1", "macro_f1_lo", "macro_f1_hi", "micro_f1", "per_code", "laterality_accuracy",
               "pdr_freq_abs_error_hz", "state_accuracy", "impression_accuracy", "unsupported_rate", "bleu4",
               "rouge_l", "bertscore_f1", "meteor", "meteor_status")  # fmt: skip


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory, one_torch_thread, tiny_narrator_trainer):
    from neuronarrator.cli import main
    from neuronarrator.corpus.build import build_corpus

    root = tmp_path_factory.mktemp("narrator_suite")
    corpus, shifted = root / "corpus", root / "shifted"
    build_corpus([("phantom", None, {"sessions": 10, "duration_s": 20})], corpus, scheduler="synchronous",
                 split_fractions=(0.4, 0.2, 0.4))  # fmt: skip
    build_corpus([("phantom", None, {"sessions": 3, "duration_s": 20, "shift": 1, "ecg_lead": True})], shifted,
                 scheduler="synchronous")  # fmt: skip
    config = tiny_narrator_trainer(
        root, corpus, steps=4,
        evaluate={"shifted_corpus": str(shifted), "max_sessions": 4, "n_boot": 20,
                  "real_files": [str(SHARED_EEGMMI), str(root / "absent.edf")]},
    )["config"]  # fmt: skip
    md = root / "out" / "narrator.md"
    md.parent.mkdir()
    code = main(["evaluate", "--suite", "narrator", "--config", str(config), "--out", str(md)])
    return {"code": code, "md": md, "config": config, "root": root}


def test_suite_writes_every_method_and_metric(suite_run):
    from neuronarrator.eval.narrator_suite import METHODS

    assert suite_run["code"] == 0
    md, json_path = suite_run["md"], suite_run["md"].with_suffix(".json")
    assert md.is_file() and json_path.is_file()
    results = json.loads(json_path.read_text())
    assert set(results["sets"]) == {"heldout", "shifted"}
    assert results["sets"]["shifted"]["n_sessions"] == 3
    # the shifted corpus stores each session's ECG lead and the suite passes it to the pipeline
    assert results["sets"]["shifted"]["n_ecg_lead"] == 3 and results["sets"]["heldout"]["n_ecg_lead"] == 0
    assert 1 <= results["sets"]["heldout"]["n_sessions"] <= 4
    for block in results["sets"].values():
        assert list(block["methods"]) == list(METHODS)
        assert {"shuffled", "shuffled_raw"} <= set(block["methods"])
        for scores in block["methods"].values():
            assert all(k in scores for k in METRIC_KEYS), set(METRIC_KEYS) - set(scores)
            for k in ("bleu4", "rouge_l", "bertscore_f1", "unsupported_rate"):
                assert 0.0 <= scores[k] <= 1.0 + 1e-9
        assert "macro_f1" in block["heads"] and set(block["faithfulness"]) == {"narrator", "shuffled"}
        # the repair makes the narrator's text agree with the heads' findings
        assert (
            block["faithfulness"]["narrator"]["after_unsupported"]
            <= block["faithfulness"]["narrator"]["before_unsupported"]
        )
    assert any("absent.edf" in n for n in results["notes"])
    if SHARED_EEGMMI.is_file():
        (real,) = results["real_files"]
        assert real["narrative"] and "pdr_measured" in real and "findings" in real["findings"]
        assert (
            real["pdr_measured"]["frequency_hz"] is None
            or 4.0 <= real["pdr_measured"]["frequency_hz"] <= 14.0
        )
    text = md.read_text()
    assert "neuronarrator evaluate --suite narrator" in text and "| shuffled_raw |" in text
    assert "| text_prior |" in text and "Distribution-shifted phantom" in text
    assert "Every session carries an ECG lead" in text and "No session carries an ECG lead." in text


def test_macro_f1_ci_resamples_patients():
    from neuronarrator.clinical.findings import Finding, Findings
    from neuronarrator.eval.narrator_suite import macro_f1_ci

    truth = [Findings(findings=(Finding("pdr", probability=1.0, frequency_hz=10.0),)), Findings()] * 3
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    lo, hi = macro_f1_ci(truth, truth, groups, n_boot=10, seed=0)
    assert lo == hi == 1.0
    assert macro_f1_ci(truth, truth, np.array(["a"] * 6), n_boot=10, seed=0) == (None, None)


def test_unknown_suite_exits_2(suite_run, tmp_path):
    from neuronarrator.cli import main

    assert main(["evaluate", "--suite", "nope", "--config", str(suite_run["config"]),
                 "--out", str(tmp_path / "x.md")]) == 2  # fmt: skip
    assert not (tmp_path / "x.md").exists()
