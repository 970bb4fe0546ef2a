"""Zero-shot prompts (every code has them, summaries are canonical) and the score arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.clinical.findings import ABNORMAL_CODES, CODES, GENERALIZED_CODES, LATERALIZED_CODES
from neuronarrator.clinical.label import label_report
from neuronarrator.clinical.summary import canonical_summary
from neuronarrator.eval.zeroshot import (
    PROMPT_CODES,
    SIDES_FOR_PROMPTS,
    eyes_prompt_table,
    normal_prompts,
    prompt_table,
    zero_shot_scores,
)


@pytest.mark.parametrize("family", ["summary", "plain"])
def test_every_code_has_prompts(family):
    table = prompt_table(family)
    assert set(table) == {*PROMPT_CODES, "normal"}
    assert "pdr" not in table and "pdr_reactive" not in table  # the normal reference holds them
    assert set(PROMPT_CODES) == set(CODES) - {"pdr", "pdr_reactive"}
    for code, prompts in table.items():
        assert prompts and all(isinstance(p, str) and p.strip() for p in prompts), code
        assert len(set(prompts)) == len(prompts), code
    for code in LATERALIZED_CODES & set(PROMPT_CODES):
        for side in SIDES_FOR_PROMPTS:
            assert any(side in p.lower() for p in table[code]), (code, side)
    assert prompt_table(family, codes=("seizure",)).keys() == {"seizure", "normal"}


def test_unknown_family():
    with pytest.raises(ValueError, match="plain"):
        prompt_table("llm")
    with pytest.raises(ValueError, match="summary"):
        eyes_prompt_table("llm")


@pytest.mark.parametrize("code", PROMPT_CODES)
def test_summary_prompts_are_canonical_summaries(code):
    for prompt in prompt_table("summary", codes=(code,))[code]:
        findings = label_report(prompt)
        assert sorted(f.code for f in findings.findings) == sorted({"pdr", "pdr_reactive", code}), prompt
        assert findings.impression == ("abnormal" if code in ABNORMAL_CODES else "normal"), prompt
        assert findings.state == "awake"
        assert canonical_summary(findings) == prompt  # written exactly as the aligned text is
        finding = next(f for f in findings.findings if f.code == code)
        if code in LATERALIZED_CODES:
            assert finding.side in SIDES_FOR_PROMPTS and finding.regions, prompt
        elif code in GENERALIZED_CODES:
            assert finding.side in (None, "generalized"), prompt  # text does not tell these apart


def test_normal_reference():
    for prompt in normal_prompts("summary"):
        findings = label_report(prompt)
        assert {f.code for f in findings.findings} == {"pdr", "pdr_reactive"}
        assert findings.impression == "normal" and canonical_summary(findings) == prompt
    assert all("normal" in p.lower() for p in normal_prompts("plain"))
    eyes = eyes_prompt_table("summary")
    assert eyes["pdr"] == normal_prompts("summary")
    assert all(not label_report(p).findings for p in eyes["normal"])  # awake, no PDR
    assert set(eyes_prompt_table("plain")) == {"pdr", "normal"}


def test_scores_on_hand_built_vectors():
    e = np.eye(4)
    prompts = {"normal": e[[0]], "a": np.stack([e[1], e[1] + 0.1 * e[2]]), "b": e[[2]]}
    sessions = np.stack([e[1], 3.0 * e[2], e[0], e[3]])  # not normalised: scores use cosines
    scores = zero_shot_scores(sessions, prompts)
    assert set(scores) == {"a", "b"}
    assert all(s.shape == (4,) for s in scores.values())
    # a session equal to a code's prompt scores highest for that code, and above the normal reference
    assert np.argmax(scores["a"]) == 0 and np.argmax(scores["b"]) == 1
    assert scores["a"][0] > scores["b"][0] and scores["b"][1] > scores["a"][1]
    # the normal session scores -1 + 0 for every code; an orthogonal one scores 0
    np.testing.assert_allclose([scores["a"][2], scores["b"][2]], [-1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose([scores["a"][3], scores["b"][3]], [0.0, 0.0], atol=1e-12)
    # by hand: cos(s, unit(mean p_code)) - cos(s, p_normal)
    mean_a = (e[1] + e[1] + 0.1 * e[2]) / 2
    expected = sessions[1] / 3.0 @ (mean_a / np.linalg.norm(mean_a)) - 0.0
    assert scores["a"][1] == pytest.approx(expected)
