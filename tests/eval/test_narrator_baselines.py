"""Narrator baselines: retrieval copies the neighbour's text, classifier+renderer recovers encoded findings,
the text prior is one constant training text."""

import numpy as np
import pytest

from neuronarrator.clinical.findings import CODES, LATERALIZED_CODES, STATES
from neuronarrator.clinical.render import render_report
from neuronarrator.clinical.sampling import random_findings
from neuronarrator.clinical.score import finding_f1
from neuronarrator.eval.narrator_baselines import (
    ClassifierRendererBaseline,
    RetrievalBaseline,
    TextPriorBaseline,
)
from neuronarrator.eval.text_metrics import clinical_text_scores

CODE_LIST = list(CODES)


def _encode(doc, rng):
    """Features that carry the findings: code indicators, left/right per lateralized code, state, PDR Hz."""
    x = np.zeros(len(CODE_LIST) + 2 * len(LATERALIZED_CODES) + len(STATES) + 1 + 8)
    lat = sorted(LATERALIZED_CODES)
    for f in doc.findings:
        x[CODE_LIST.index(f.code)] = 1.0
        if f.code in LATERALIZED_CODES and f.side in ("left", "right"):
            x[len(CODE_LIST) + 2 * lat.index(f.code) + (f.side == "right")] = 1.0
        if f.code == "pdr":
            x[-9] = f.frequency_hz
    x[len(CODE_LIST) + 2 * len(lat) + STATES.index(doc.state)] = 1.0
    x[-8:] = rng.normal(size=8)  # nuisance columns
    return x + rng.normal(scale=0.05, size=x.size)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    docs = [random_findings(seed) for seed in range(200)]
    x = np.stack([_encode(d, rng) for d in docs])
    texts = [render_report(d, rng=i).text for i, d in enumerate(docs)]
    return x, docs, texts


def test_retrieval_returns_the_training_text_of_a_duplicated_feature_vector(data):
    x, _, texts = data
    model = RetrievalBaseline().fit(x[:150], texts[:150])
    assert model.predict(x[[7, 42, 149]]) == [texts[7], texts[42], texts[149]]
    out = model.predict(x[150:])
    assert len(out) == 50 and set(out) <= set(texts[:150])
    with pytest.raises(ValueError):
        model.predict(x[:3, :5])


def test_classifier_renderer_recovers_encoded_findings(data):
    x, docs, _ = data
    model = ClassifierRendererBaseline().fit(x[:150], docs[:150])
    predicted = model.predict_findings(x[150:])
    report = finding_f1(predicted, docs[150:], threshold=0.5)
    assert report.micro_f1 > 0.9 and report.state_accuracy > 0.9
    texts = model.predict(x[150:])
    assert texts == model.predict(x[150:])  # deterministic phrasing
    scores = clinical_text_scores(texts, docs[150:])
    assert scores["micro_f1"] > 0.85
    assert scores["laterality_accuracy"] is not None and scores["laterality_accuracy"] > 0.8
    assert scores["pdr_freq_abs_error_hz"] < 1.0


def test_text_prior_returns_one_constant_training_text(data):
    x, _, texts = data
    model = TextPriorBaseline(method="rouge_l").fit(texts[:20])
    out = model.predict(x[150:])
    assert len(out) == 50 and len(set(out)) == 1 and out[0] in texts[:20]
    # the medoid is the typical text, not the outlier
    small = ["a b c d e", "a b c d f", "a b c d g", "x y z w v"]
    assert TextPriorBaseline(method="rouge_l").fit(small).text != "x y z w v"
    embed = lambda t: np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])  # noqa: E731
    assert TextPriorBaseline(embed=embed).fit(["p", "q", "r"]).text == "q"
    with pytest.raises(ValueError):
        TextPriorBaseline(method="bleu")
