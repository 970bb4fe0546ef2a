"""Narrative metrics: BLEU-4 / ROUGE-L bounds, BERTScore ordering, clinical agreement of rendered text."""

import re
from dataclasses import replace

import numpy as np
import pytest

from neuronarrator.clinical.findings import LATERALIZED_CODES
from neuronarrator.clinical.render import render_report
from neuronarrator.clinical.sampling import random_findings
from neuronarrator.eval.text_metrics import (
    MetricUnavailable,
    bert_score_minilm,
    bleu4,
    clinical_text_scores,
    findings_scores,
    meteor,
    meteor_status,
    rouge_l,
)

A = "The posterior dominant rhythm is 10 Hz and reactive to eye opening, with no epileptiform discharges."
B = "Frequent left temporal sharp waves were recorded during sleep, maximal at T7 electrode."
DISJOINT = "banana orange grape kiwi melon papaya lemon cherry plum apricot"


@pytest.fixture(scope="module")
def rendered():
    truth = [random_findings(seed) for seed in range(40)]
    return truth, [render_report(doc, rng=seed).text for seed, doc in enumerate(truth)]


def test_bleu_and_rouge_are_one_on_identical_and_zero_on_disjoint_text():
    for metric in (bleu4, rouge_l):
        same = metric([A, B], [A, B])
        assert same["corpus"] == pytest.approx(1.0) and np.allclose(same["per_item"], 1.0)
        apart = metric([A, B], [DISJOINT, DISJOINT])
        assert apart["corpus"] < 0.05 and (apart["per_item"] < 0.05).all()
    partial = rouge_l([A], [A.replace("10 Hz", "8 Hz")])["corpus"]
    assert 0.5 < partial < 1.0
    with pytest.raises(ValueError):
        bleu4([A], [A, B])


def test_meteor_runs_offline_or_says_why_not():
    reason = meteor_status()
    if reason is None:
        assert meteor([A], [A])["corpus"] > 0.9
    else:
        with pytest.raises(MetricUnavailable, match="METEOR not computed"):
            meteor([A], [A])


@pytest.mark.slow
def test_bertscore_orders_identical_paraphrase_unrelated():
    ref = "The background is normal and well organized, with a reactive 10 Hz posterior rhythm."
    para = "Background activity is within normal limits; the posterior rhythm is 10 Hz and reactive."
    unrelated = "Bananas and oranges are sold at the market every Saturday morning."
    out = bert_score_minilm([ref, para, unrelated], [ref, ref, ref], device="cpu")
    f1 = out["f1"]
    assert f1[0] == pytest.approx(1.0, abs=1e-5)
    assert f1[0] > f1[1] > f1[2]
    assert out["precision"].shape == out["recall"].shape == (3,)
    assert bert_score_minilm([""], [ref], device="cpu")["f1"][0] == 0.0


def test_findings_scores_of_the_truth_is_perfect(rendered):
    truth, _ = rendered
    certain = [replace(d, findings=tuple(f.with_(probability=0.9) for f in d.findings)) for d in truth]
    out = findings_scores(certain, truth)
    assert out["micro_f1"] == out["macro_f1"] == 1.0
    # a prediction below the threshold is a miss, whatever the truth's own probability
    assert findings_scores(truth, truth)["micro_f1"] < 1.0
    assert out["pdr_freq_abs_error_hz"] == 0.0 and out["pdr_freq_count"] > 0
    assert out["state_accuracy"] == out["impression_accuracy"] == 1.0


def test_rendered_truth_reads_back_perfectly(rendered):
    truth, texts = rendered
    out = clinical_text_scores(texts, truth)
    assert out["micro_f1"] == 1.0 and out["macro_f1"] == 1.0
    assert all(s["f1"] == 1.0 for s in out["per_code"].values())
    assert out["laterality_accuracy"] == 1.0 and out["laterality_count"] > 5
    assert out["state_accuracy"] == 1.0 and out["impression_accuracy"] == 1.0
    assert out["unsupported_rate"] == 0.0 and out["reports_with_unsupported"] == 0.0
    assert out["pdr_freq_count"] > 0 and out["pdr_freq_abs_error_hz"] < 0.5  # text rounds to 0.5 Hz
    assert len(out["labeled"]) == len(texts)


def _swap_sides(text):
    return re.sub(r"\b(left|right)\b", lambda m: {"left": "right", "right": "left"}[m.group(1)], text)


def test_swapping_sides_lowers_laterality_and_is_unsupported(rendered):
    truth, texts = rendered
    keep = [i for i, doc in enumerate(truth) if any(f.code in LATERALIZED_CODES and f.side in ("left", "right")
                                                     for f in doc.findings)]  # fmt: skip
    assert len(keep) >= 5
    sub_truth, swapped = [truth[i] for i in keep], [_swap_sides(texts[i]) for i in keep]
    before = clinical_text_scores([texts[i] for i in keep], sub_truth)
    after = clinical_text_scores(swapped, sub_truth)
    assert before["laterality_accuracy"] == 1.0
    assert after["laterality_accuracy"] < 0.5
    assert after["unsupported_rate"] > 0.2 and after["micro_f1"] == before["micro_f1"]  # codes unchanged
