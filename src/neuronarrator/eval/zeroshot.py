"""Zero-shot classification by text prompts, as CLIP does: a session is scored for a finding by how much
closer its projection into the text space lies to the finding's prompts than to a normal EEG's.

Two prompt families, both averaged over variants (CLIP's prompt ensembling) and each embedded by the
frozen text encoder then the aligner's text head:

* ``summary`` prompts are written the way the aligned text was (:func:`canonical_summary` of the normal
  reference's findings plus the one finding, over sides and regions where the finding has them);
* ``plain`` prompts are free text a clinician might type ("EEG with left temporal focal slowing"), the
  wording the issue names; they test whether alignment reached the MiniLM space beyond the summary form.

The reference is the summary (or plain prompt) of a normal awake EEG with a reactive PDR. The score of a
session for code c is ``cos(s, mean p_c) - cos(s, mean p_normal)`` with L2-normalised means.
"""

from __future__ import annotations

import numpy as np

from neuronarrator.clinical.findings import (
    ABNORMAL_CODES,
    CODES,
    GENERALIZED_CODES,
    LATERALIZED_CODES,
    Finding,
    Findings,
)
from neuronarrator.clinical.summary import NOUNS, canonical_summary

#: Variants of a lateralized finding: both sides, in the regions such findings mostly occupy.
SIDES_FOR_PROMPTS = ("left", "right")
REGIONS_FOR_PROMPTS = (("temporal",), ("frontal",), ("central",), ("parietal",), ("occipital",))
#: PDR frequencies of the normal reference (a normal adult's 8.5-11.5 Hz).
NORMAL_PDR_HZ = (9.0, 10.0, 11.0)
#: Codes a session is scored for: every finding but the PDR ones (the normal reference holds them).
PROMPT_CODES = tuple(c for c in CODES if c not in ("pdr", "pdr_reactive"))


def _variants(code: str) -> list[Finding]:
    if code in LATERALIZED_CODES:
        return [Finding(code, side=s, regions=r) for s in SIDES_FOR_PROMPTS for r in REGIONS_FOR_PROMPTS]
    if code in GENERALIZED_CODES:
        return [Finding(code, side="generalized")]
    return [Finding(code)]


def _normal_findings(hz: float) -> tuple[Finding, ...]:
    return (Finding("pdr", frequency_hz=hz), Finding("pdr_reactive"))


def summary_prompts(code: str) -> list[str]:
    """Canonical summaries of the normal reference with the one finding added (impression abnormal for
    abnormal codes): the prompt and the reference then differ by the finding's own phrase (and the
    impression), so a session is not scored for whatever else the reference lacks or holds (without the
    PDR in the prompt, every awake record would look "less like a blink" than the reference)."""
    impression = "abnormal" if code in ABNORMAL_CODES else "normal"
    return [canonical_summary(Findings(findings=(*_normal_findings(hz), f), state="awake", impression=impression))
            for f in _variants(code) for hz in NORMAL_PDR_HZ]  # fmt: skip


def plain_prompts(code: str) -> list[str]:
    out = []
    for f in _variants(code):
        place = " ".join(([f.side] if f.side and f.side != "generalized" else []) + list(f.regions))
        out.append(f"EEG with {place + ' ' if place else ''}{NOUNS[code]}")
    return out


def normal_prompts(family: str) -> list[str]:
    if family == "plain":
        return ["normal EEG", "normal awake EEG", "normal EEG with a well-formed posterior dominant rhythm"]
    return [canonical_summary(Findings(findings=_normal_findings(hz), state="awake", impression="normal"))
            for hz in NORMAL_PDR_HZ]  # fmt: skip


PROMPT_FAMILIES = {"summary": summary_prompts, "plain": plain_prompts}


def prompt_table(family: str, codes=PROMPT_CODES) -> dict[str, list[str]]:
    """``{code: prompts}`` plus ``"normal"``, for one family."""
    if family not in PROMPT_FAMILIES:
        raise ValueError(f"prompt family must be one of {sorted(PROMPT_FAMILIES)}, got {family!r}")
    return {**{c: PROMPT_FAMILIES[family](c) for c in codes}, "normal": normal_prompts(family)}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def zero_shot_scores(
    session_text: np.ndarray, prompt_embeddings: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Scores per code.

    Parameters
    ----------
    session_text : array, shape (n_sessions, d_align)
        Sessions projected into the text space (L2-normalised or not).
    prompt_embeddings : dict of str to array (n_prompts, d_align)
        Projected prompt embeddings per code, with ``"normal"``.

    Returns
    -------
    dict of code to array (n_sessions,): ``cos(s, p_code) - cos(s, p_normal)``.
    """
    s = _unit(np.asarray(session_text, dtype=np.float64))
    normal = _unit(np.asarray(prompt_embeddings["normal"], dtype=np.float64).mean(0))
    return {code: s @ _unit(np.asarray(p, dtype=np.float64).mean(0)) - s @ normal
            for code, p in prompt_embeddings.items() if code != "normal"}  # fmt: skip


def eyes_prompt_table(family: str) -> dict[str, list[str]]:
    """PDR present (``"pdr"``: a normal awake EEG with a reactive PDR) against absent (``"normal"``: an
    awake EEG with no PDR): the zero-shot test on the real eyes-closed/eyes-open pair, where closing the
    eyes brings the PDR out."""
    if family == "plain":
        return {"pdr": ["EEG with a posterior dominant alpha rhythm", "eyes closed, posterior alpha rhythm"],
                "normal": ["EEG without a posterior dominant rhythm", "eyes open, no alpha rhythm"]}  # fmt: skip
    if family != "summary":
        raise ValueError(f"prompt family must be one of {sorted(PROMPT_FAMILIES)}, got {family!r}")
    return {"pdr": normal_prompts("summary"),
            "normal": [canonical_summary(Findings(findings=(), state="awake", impression="normal"))]}  # fmt: skip
