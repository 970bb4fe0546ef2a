"""Narrative metrics of the narrator benchmark: n-gram overlap, BERTScore, and clinical agreement of text.

Language metrics (each pairs a generated text ``hyps[i]`` with one reference ``refs[i]``; all on a 0-1
scale):

``bleu4``
    sacrebleu's BLEU-4 (13a tokenizer, lowercased, as pycocoevalcap does for report generation), divided
    by 100. Corpus BLEU pools the n-gram counts of all pairs; the per-item values are sacrebleu's
    ``sentence_bleu`` with its default exponential smoothing (unsmoothed sentence BLEU is 0 whenever a
    pair shares no 4-gram), so their mean is not the corpus value.
``rouge_l``
    Google's ``rouge-score`` ROUGE-L F-measure (LCS over the whole text as one sequence, its lowercasing
    alphanumeric tokenizer, no stemmer); the corpus value is the mean over pairs, as usual.
``meteor``
    Not computed: NLTK's METEOR needs the WordNet corpus, which is data NLTK downloads at run time
    (``nltk.download("wordnet")``) and the project never downloads anything. :func:`meteor` runs it when a
    WordNet copy is already on NLTK's data path and otherwise raises :class:`MetricUnavailable` with the
    reason (:func:`meteor_status`); a METEOR without WordNet synonyms would be a different metric, so none
    is substituted.
``bert_score_minilm``
    BERTScore (Zhang et al., 2020) with the offline MiniLM-L6 (:func:`~neuronarrator.models.text.
    local_minilm_path`), not the paper's RoBERTa-large: contextual token embeddings of the last layer
    (the one MiniLM's sentence pooling reads), special tokens and padding excluded, each token matched
    greedily to its most cosine-similar token of the other text; precision averages over the hypothesis'
    tokens, recall over the reference's, F1 is their harmonic mean. No IDF weighting and no baseline
    rescaling, so values are not comparable with published BERTScores, and two different EEG reports
    already score about 0.7 (shared layout and vocabulary) against about 0.1 for unrelated prose. Texts are truncated to the model's 512 positions.

Clinical metrics (:func:`clinical_text_scores`): every generated text is read back with the project's
labeler (:func:`~neuronarrator.clinical.label.label_report`) and the findings it asserts are scored
against the true findings by :func:`findings_scores` (the same scoring takes the finding heads' output
directly): per-code precision/recall/F1 and micro/macro F1 (:func:`~neuronarrator.clinical.score.
finding_f1`, threshold 0.5), laterality accuracy, PDR frequency error, state and impression accuracy.
On top, the rate of statements unsupported by the ground truth: :func:`~neuronarrator.clinical.
faithfulness.check_narrative` of each text against its true findings, every true finding at probability
1.0 (a true finding the sampler drew at 0.55 still supports the text that states it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.faithfulness import check_narrative
from neuronarrator.clinical.findings import LATERALIZED_CODES, Findings
from neuronarrator.clinical.label import label_report
from neuronarrator.clinical.score import finding_f1

#: Tokens per text the BERTScore model sees (MiniLM's position embeddings).
BERTSCORE_MAX_TOKENS = 512


class MetricUnavailable(RuntimeError):
    """A metric that cannot run offline here (the message says why)."""


def _pairs(hyps: Sequence[str], refs: Sequence[str]) -> tuple[list[str], list[str]]:
    hyps, refs = list(hyps), list(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    return hyps, refs


# --- n-gram overlap -------------------------------------------------------------------------------------
def bleu4(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, Any]:
    """BLEU-4 of paired texts (0-1; see the module doc).

    Returns
    -------
    dict
        ``corpus`` (float, pooled n-gram counts) and ``per_item`` (ndarray (n,), smoothed sentence BLEU).
    """
    import sacrebleu

    hyps, refs = _pairs(hyps, refs)
    if not hyps:
        return {"corpus": float("nan"), "per_item": np.zeros(0)}
    corpus = sacrebleu.corpus_bleu(hyps, [refs], lowercase=True).score / 100.0
    per_item = np.array(
        [
            sacrebleu.sentence_bleu(h, [r], lowercase=True).score / 100.0
            for h, r in zip(hyps, refs, strict=True)
        ]
    )
    return {"corpus": float(corpus), "per_item": per_item}


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, Any]:
    """ROUGE-L F-measure of paired texts (0-1).

    Returns
    -------
    dict
        ``corpus`` (mean over pairs) and ``per_item`` (ndarray (n,)).
    """
    hyps, refs = _pairs(hyps, refs)
    scorer = _rouge_scorer()
    # rouge-score's argument order is (target, prediction).
    per_item = np.array(
        [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs, strict=True)], dtype=float
    )
    return {"corpus": float(per_item.mean()) if per_item.size else float("nan"), "per_item": per_item}


def meteor_status() -> str | None:
    """None when METEOR can run offline here, else why it cannot."""
    try:
        from nltk.corpus import wordnet
    except ImportError:
        return "nltk is not installed"
    try:
        wordnet.ensure_loaded()
    except LookupError:
        return (
            "NLTK's METEOR needs the WordNet corpus, which is not on NLTK's data path and would have to be "
            "downloaded at run time (nltk.download('wordnet')); the project downloads nothing"
        )
    return None


def meteor(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, Any]:
    """NLTK METEOR (whitespace tokens, lowercased) when WordNet is available offline.

    Raises
    ------
    MetricUnavailable
        Without a local WordNet (the usual case; see :func:`meteor_status`).
    """
    reason = meteor_status()
    if reason is not None:
        raise MetricUnavailable(f"METEOR not computed: {reason}")
    from nltk.translate.meteor_score import meteor_score

    hyps, refs = _pairs(hyps, refs)
    per_item = np.array(
        [meteor_score([r.lower().split()], h.lower().split()) for h, r in zip(hyps, refs, strict=True)]
    )
    return {"corpus": float(per_item.mean()) if per_item.size else float("nan"), "per_item": per_item}


# --- BERTScore ------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _bert_model(path: str, device: str):
    from neuronarrator.models.text import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
    return tokenizer, model


def _token_embeddings(texts: list[str], tokenizer, model, device: str, batch_size: int) -> list[np.ndarray]:
    import torch

    out: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        enc = tokenizer(
            batch, padding=True, truncation=True, max_length=BERTSCORE_MAX_TOKENS,
            return_tensors="pt", return_special_tokens_mask=True,
        )  # fmt: skip
        keep = (enc.pop("special_tokens_mask") == 0) & (enc["attention_mask"] == 1)
        with torch.no_grad():
            hidden = model(**{k: v.to(device) for k, v in enc.items()}).last_hidden_state
        hidden = torch.nn.functional.normalize(hidden.float(), dim=-1).cpu().numpy()
        keep = keep.numpy()
        out.extend(hidden[i][keep[i]] for i in range(len(batch)))
    return out


def bert_score_minilm(
    hyps: Sequence[str],
    refs: Sequence[str],
    *,
    path: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """BERTScore precision/recall/F1 per pair with the local MiniLM (no IDF, no rescaling; module doc).

    Parameters
    ----------
    hyps, refs : paired texts.
    path : a local transformers model folder; default :func:`~neuronarrator.models.text.local_minilm_path`.
    device : torch device; default CUDA when visible.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (ndarrays (n,); 0 where a text has no tokens) and ``corpus``
        (mean F1).
    """
    from neuronarrator.models.text import default_device, local_minilm_path

    hyps, refs = _pairs(hyps, refs)
    device = device or default_device()
    tokenizer, model = _bert_model(str(path or local_minilm_path()), device)
    h_emb = _token_embeddings(hyps, tokenizer, model, device, batch_size)
    r_emb = _token_embeddings(refs, tokenizer, model, device, batch_size)
    n = len(hyps)
    p, r = np.zeros(n), np.zeros(n)
    for i, (h, ref) in enumerate(zip(h_emb, r_emb, strict=True)):
        if len(h) and len(ref):
            sim = h @ ref.T
            p[i], r[i] = sim.max(axis=1).mean(), sim.max(axis=0).mean()
    denom = p + r
    f = np.divide(2 * p * r, denom, out=np.zeros(n), where=denom > 0)
    return {"precision": p, "recall": r, "f1": f, "corpus": float(f.mean()) if n else float("nan")}


# --- clinical agreement ---------------------------------------------------------------------------------
def _laterality(
    predicted: Sequence[Findings], truth: Sequence[Findings], threshold: float
) -> tuple[int, int]:
    """(hits, total) over true lateralized findings whose code was detected."""
    hits = total = 0
    for p, t in zip(predicted, truth, strict=True):
        detected = {f.code for f in p.findings if f.probability >= threshold}
        for f in t.findings:
            if f.code in LATERALIZED_CODES and f.probability >= threshold and f.code in detected:
                total += 1
                hits += any(g.code == f.code and g.side == f.side for g in p.findings)
    return hits, total


def _pdr_errors(predicted: Sequence[Findings], truth: Sequence[Findings]) -> np.ndarray:
    errors = []
    for p, t in zip(predicted, truth, strict=True):
        fp, ft = p.get("pdr"), t.get("pdr")
        if fp is not None and ft is not None and fp.frequency_hz is not None and ft.frequency_hz is not None:
            errors.append(abs(fp.frequency_hz - ft.frequency_hz))
    return np.asarray(errors, dtype=float)


def findings_scores(
    predicted: Sequence[Findings], truth: Sequence[Findings], threshold: float = 0.5
) -> dict[str, Any]:
    """Clinical agreement of predicted findings (the heads', or read from text) with the true findings.

    Every finding the truth lists counts as present, whatever its probability (that is the certainty the
    reference text hedges with, "possible" and the like, not whether the finding is there); a predicted
    finding counts when its probability reaches ``threshold`` (the labeler reads "possible" as 0.5).

    Returns
    -------
    dict
        ``n``; ``micro_f1``, ``macro_f1`` and ``per_code`` ({code: {precision, recall, f1, tp, fp, fn}},
        codes present in either side) from :func:`~neuronarrator.clinical.score.finding_f1`;
        ``side_accuracy``/``side_count`` (its side score over every sided true finding);
        ``laterality_accuracy``/``laterality_count``: over true findings of a lateralized code (focal
        slowing, asymmetry, focal epileptiform, LPD, LRDA) whose code was detected, the share with a
        predicted finding of that code on the same side (None when there are none);
        ``pdr_freq_abs_error_hz`` (mean |Hz| where both have a PDR frequency; None if no pair) and
        ``pdr_freq_count``; ``state_accuracy``, ``impression_accuracy``.
    """
    predicted, truth = list(predicted), [_certain(t) for t in truth]
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted documents for {len(truth)} true documents")
    report = finding_f1(predicted, truth, threshold=threshold)
    hits, total = _laterality(predicted, truth, threshold)
    pdr = _pdr_errors(predicted, truth)
    return {
        "n": len(truth),
        "micro_f1": report.micro_f1,
        "macro_f1": report.macro_f1,
        "per_code": {
            code: {
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "tp": s.tp,
                "fp": s.fp,
                "fn": s.fn,
            }
            for code, s in sorted(report.per_code.items())
        },
        "side_accuracy": report.side_accuracy,
        "side_count": report.side_count,
        "laterality_accuracy": hits / total if total else None,
        "laterality_count": total,
        "pdr_freq_abs_error_hz": float(pdr.mean()) if pdr.size else None,
        "pdr_freq_count": int(pdr.size),
        "state_accuracy": report.state_accuracy,
        "impression_accuracy": report.impression_accuracy,
    }


def _certain(doc: Findings) -> Findings:
    return replace(doc, findings=tuple(f.with_(probability=1.0) for f in doc.findings))


def clinical_text_scores(
    hyps_text: Sequence[str], true_findings_list: Sequence[Findings], threshold: float = 0.5
) -> dict[str, Any]:
    """Label each generated text and score it against its true findings (module doc).

    Returns
    -------
    dict
        Everything :func:`findings_scores` returns, plus ``unsupported_rate`` (unsupported asserted
        findings / asserted findings, pooled over texts; 0.0 when nothing is asserted),
        ``unsupported_per_report`` (mean count), ``reports_with_unsupported`` (share of texts with at least
        one), ``omitted_per_report`` (true findings the text leaves out, mean count), ``n_asserted``, and
        ``labeled`` (the findings read from each text).
    """
    texts, truth = list(hyps_text), list(true_findings_list)
    if len(texts) != len(truth):
        raise ValueError(f"{len(texts)} texts for {len(truth)} true documents")
    labeled = [label_report(t) for t in texts]
    out = findings_scores(labeled, truth, threshold=threshold)
    counts = [check_narrative(t, _certain(doc)).counts for t, doc in zip(texts, truth, strict=True)]
    unsupported = np.array([c["unsupported"] for c in counts], dtype=float)
    asserted = int(sum(c["n_asserted"] for c in counts))
    n = len(texts)
    out.update(
        unsupported_rate=float(unsupported.sum() / asserted) if asserted else 0.0,
        unsupported_per_report=float(unsupported.mean()) if n else None,
        reports_with_unsupported=float((unsupported > 0).mean()) if n else None,
        omitted_per_report=float(np.mean([c["omitted"] for c in counts])) if n else None,
        n_asserted=asserted,
        labeled=labeled,
    )
    return out
