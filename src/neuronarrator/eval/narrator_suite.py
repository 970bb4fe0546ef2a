"""``neuronarrator evaluate --suite narrator``: the narrator benchmark on the sets we have.

Sets
    ``heldout``: the corpus's held-out test split; ``shifted``: every session of the distribution-shifted
    corpus (``shifted_corpus``, optional); each at most ``max_sessions`` sessions, in manifest order. The
    true findings are the manifest's ``findings`` column (a :class:`~neuronarrator.clinical.findings.
    Findings` document as JSON), the references its ``narrative`` column.

Methods (each gives one narrative per session)
    ``narrator``: the pipeline of :mod:`neuronarrator.narrator.pipeline` (stage-1 heads → session
    findings; the narrator's text repaired against them); ``narrator_raw``: the narrator's text before
    repair; ``shuffled_raw`` and ``shuffled``: the shuffled-EEG control -- the same system fed *another*
    session's EEG (the next session of the set, so no session keeps its own): ``shuffled`` is the whole
    pipeline on that EEG (its heads' findings, its narrative repaired against them), ``shuffled_raw`` the
    narrator's text from its features before repair; both are scored against *this* session's truth.
    Without EEG information the scores must fall to the ``chance`` level: the next session's true
    findings scored against this session's (what knowing the corpus but not the EEG gives). Permuting a
    session's own segments would not do: the set of segments keeps their content and the narrative barely
    moves (a first run showed exactly
    that); ``narrate_recording(..., shuffle_segments=True)`` is that weaker, single-recording control. Baselines fitted on the
    train split's band-power features (:mod:`.bandpower`): ``retrieval``, ``classifier_renderer``,
    ``text_prior`` (:mod:`.narrator_baselines`). The models are loaded once
    (:class:`~neuronarrator.narrator.pipeline.Narrator`, the steps ``narrate_recording`` runs).

Metrics per method (:mod:`.text_metrics`)
    the clinical scores of the text read back by the labeler (:func:`clinical_text_scores`: per-code
    P/R/F1, micro/macro F1, laterality, PDR error, state/impression accuracy, unsupported rate), BLEU-4,
    ROUGE-L and BERTScore-MiniLM against the reference narratives, METEOR where it can run offline (else
    its reason), and a patient-clustered bootstrap 95% CI of macro F1: patients are resampled with
    replacement ``n_boot`` times and the corpus macro F1 (:func:`~neuronarrator.clinical.score.
    finding_f1`, the same function as the point value) recomputed on each resample's sessions; percentile
    interval. The heads' findings themselves (no text) get :func:`findings_scores` under ``heads``.

Real files (``real_files``; a missing file is skipped with a note)
    the narrative and findings the pipeline gives each file, and the PDR frequency the findings claim beside
    the peak :func:`~neuronarrator.signal.bands.posterior_dominant_rhythm` measures on O1/O2 of the
    harmonized signal. Reported, not asserted: these files have no reference report.

Config: the ``evaluate`` section of a narrator config over its shared keys (``corpus``, ``seed``):
``shifted_corpus``, ``real_files``, ``max_sessions`` (default 50), ``n_boot`` (default 200),
``threshold`` (0.5), ``stage1_checkpoint`` / ``narrator_checkpoint`` (default the ``checkpoint`` of the
``stages.stage1`` / ``stages.narrator`` sections).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import Findings
from neuronarrator.eval.signals import SessionSignal
from neuronarrator.train.loop import TrainConfigError

__all__ = ["METHODS", "narrator_suite_config", "run_narrator_suite"]

log = logging.getLogger(__name__)

#: Methods scored on every phantom set, in table order.
METHODS = (
    "narrator",
    "narrator_raw",
    "shuffled",
    "shuffled_raw",
    "retrieval",
    "classifier_renderer",
    "text_prior",
)
#: Keys of each method's ``scores`` that are single numbers (the Markdown's main table).
SUMMARY_KEYS = ("macro_f1", "micro_f1", "laterality_accuracy", "pdr_freq_abs_error_hz", "state_accuracy",
                "impression_accuracy", "unsupported_rate", "bleu4", "rouge_l", "bertscore_f1")  # fmt: skip
DEFAULT_MAX_SESSIONS = 50
DEFAULT_N_BOOT = 200


def narrator_suite_config(document: Mapping[str, Any]) -> dict[str, Any]:
    """The flat evaluate config of a narrator config document (see the module docstring)."""
    section = document.get("evaluate")
    if not isinstance(section, Mapping):
        raise TrainConfigError("the config has no 'evaluate' section")
    config = {**{k: v for k, v in document.items() if k not in ("stages", "evaluate")}, **section}
    stages = document.get("stages") or {}
    for name in ("stage1", "narrator"):
        key = f"{name}_checkpoint"
        if key not in config and "checkpoint" in (stages.get(name) or {}):
            config[key] = stages[name]["checkpoint"]
    missing = [k for k in ("corpus", "stage1_checkpoint", "narrator_checkpoint") if k not in config]
    if missing:
        raise TrainConfigError(f"the evaluate config lacks {', '.join(missing)}")
    return config


# --- sets -----------------------------------------------------------------------------------------------------


def _truth(value: Any) -> Findings:
    if not value:
        return Findings()
    return Findings.from_dict(json.loads(value) if isinstance(value, str) else value)


def _load(corpus: str | Path, split: str | None, max_sessions: int | None) -> dict[str, Any]:
    from neuronarrator.eval.signals import corpus_sessions

    sessions, table = corpus_sessions(corpus, split, max_sessions)
    return {"sessions": sessions, "truth": [_truth(v) for v in table.column("findings").to_pylist()],
            "refs": [str(v or "") for v in table.column("narrative").to_pylist()],
            "groups": np.asarray([str(p) for p in table.column("patient").to_pylist()])}  # fmt: skip


# --- the narrator, models loaded once -------------------------------------------------------------------------


def narrate_session(narrator, signal: SessionSignal, control: SessionSignal | None = None) -> dict[str, Any]:
    """The heads' findings and the raw/repaired narrative of the session's own EEG, and the same of the
    control: another session's EEG, run through the whole pipeline (its own findings, its text repaired
    against them); without one, the session's segments in random order, repaired against the session's
    findings (a weaker control). ``narrator``: a loaded :class:`~neuronarrator.narrator.pipeline.Narrator`."""
    _, findings = narrator.findings(signal)
    features = narrator.features(signal)
    if control is not None:
        _, control_findings = narrator.findings(control)
        control_features = narrator.features(control)
    else:
        control_findings = findings
        control_features = features[np.random.default_rng(narrator.seed).permutation(len(features))]
    out: dict[str, Any] = {"findings": findings, "shuffled_findings": control_findings}
    for name, x, f in (("narrator", features, findings), ("shuffled", control_features, control_findings)):
        raw, fixed, before, after = narrator.narrate(x, f)
        out[name], out[f"{name}_raw"] = fixed, raw
        out[f"{name}_faithfulness"] = {"before": before.counts, "after": after.counts}
    return out


# --- scoring --------------------------------------------------------------------------------------------------


def macro_f1_ci(predicted: Sequence[Findings], truth: Sequence[Findings], groups: np.ndarray, n_boot: int,
                seed: int, threshold: float = 0.5) -> tuple[float | None, float | None]:  # fmt: skip
    """Patient-clustered percentile bootstrap 95% CI of corpus macro F1 (module docstring); (None, None)
    with fewer than two patients or ``n_boot`` < 1."""
    from neuronarrator.clinical.score import finding_f1
    from neuronarrator.eval.text_metrics import _certain

    patients = np.unique(groups)
    if len(patients) < 2 or n_boot < 1:
        return None, None
    truth = [_certain(t) for t in truth]
    rows = {p: np.flatnonzero(groups == p) for p in patients}
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([rows[p] for p in rng.choice(patients, len(patients), replace=True)])
        value = finding_f1([predicted[i] for i in idx], [truth[i] for i in idx], threshold=threshold).macro_f1
        if value is not None and np.isfinite(value):
            values.append(value)
    if not values:
        return None, None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def text_scores(texts: Sequence[str], truth: Sequence[Findings], refs: Sequence[str], groups: np.ndarray,
                n_boot: int, seed: int, threshold: float = 0.5) -> dict[str, Any]:  # fmt: skip
    """Every metric of one method's narratives (module docstring); JSON-ready but for numpy scalars."""
    from neuronarrator.eval.text_metrics import (
        bert_score_minilm,
        bleu4,
        clinical_text_scores,
        meteor,
        meteor_status,
        rouge_l,
    )

    out = clinical_text_scores(texts, truth, threshold=threshold)
    labeled = out.pop("labeled")
    out["macro_f1_lo"], out["macro_f1_hi"] = macro_f1_ci(labeled, truth, groups, n_boot, seed, threshold)
    out["bleu4"] = bleu4(texts, refs)["corpus"]
    out["rouge_l"] = rouge_l(texts, refs)["corpus"]
    out["bertscore_f1"] = bert_score_minilm(texts, refs)["corpus"]
    reason = meteor_status()
    out["meteor"] = meteor(texts, refs)["corpus"] if reason is None else None
    out["meteor_status"] = reason or "computed"
    return out


# --- real files -----------------------------------------------------------------------------------------------


def measured_pdr(signal: SessionSignal) -> dict[str, Any]:
    """The O1/O2 posterior peak of a referential signal (None for bipolar or without O1/O2)."""
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.signal.bands import posterior_dominant_rhythm

    if signal.montage != "referential":
        return {"frequency_hz": None, "confidence": None, "channels_used": [], "note": "bipolar montage"}
    pdr = posterior_dominant_rhythm(signal.data_uv, SFREQ_HZ, CANONICAL_19, channels=("O1", "O2"),
                                    channel_mask=signal.channel_mask)  # fmt: skip
    return {"frequency_hz": pdr.frequency_hz, "confidence": pdr.confidence,
            "peak_to_background_db": pdr.peak_to_background_db, "channels_used": list(pdr.channels_used)}  # fmt: skip


def _real_file(path: Path, narrator) -> dict[str, Any]:
    from neuronarrator.narrator.pipeline import recording_signal

    signal, info = recording_signal(path)
    out = narrate_session(narrator, signal)
    findings: Findings = out["findings"]
    pdr = findings.get("pdr")
    return {"file": str(path), "recording": info.get("recording", {}), "quality": info.get("quality", {}),
            "narrative": out["narrator"], "raw_narrative": out["narrator_raw"],
            "faithfulness": out["narrator_faithfulness"], "findings": findings.to_dict(),
            "findings_extras": {k: v for k, v in findings.extras.items() if k != "state_timeline"},
            "pdr_claimed_hz": None if pdr is None else pdr.frequency_hz, "pdr_measured": measured_pdr(signal)}  # fmt: skip


# --- the suite ------------------------------------------------------------------------------------------------


def stage1_validation(path: str | Path) -> dict[str, Any]:
    """What stage 1 measured on its val split (its checkpoint's manifest): segment and session macro
    AUROC/F1, state and side accuracy, and the reliability (ECE) before and after each calibration."""
    from neuronarrator.train.loop import stage_checkpoint

    val = stage_checkpoint(path, "stage1")["manifest"].get("val") or {}
    presence, calibration, sessions = val.get("presence") or {}, val.get("calibration") or {}, val.get("sessions") or {}
    out = {"n_segments": val.get("n_segments"), "segment_macro_auroc": presence.get("macro_auroc"),
           "segment_macro_f1": presence.get("macro_f1"), "state_accuracy": val.get("state_accuracy"),
           "side_accuracy": val.get("side_accuracy"),
           "segment_ece_before": (calibration.get("before") or {}).get("ece"),
           "segment_ece_after": (calibration.get("after") or {}).get("ece")}  # fmt: skip
    if sessions:
        out.update(n_sessions=sessions["n"], session_macro_auroc=sessions["calibrated"]["macro_auroc"],
                   session_macro_f1_max=sessions["max_of_segments"]["macro_f1"],
                   session_macro_f1_calibrated=sessions["calibrated"]["macro_f1"],
                   session_ece_before=sessions["reliability_before"]["ece"],
                   session_ece_after=sessions["reliability_after"]["ece"])  # fmt: skip
    return out


def run_narrator_suite(config: Mapping[str, Any]) -> dict[str, Any]:
    """Run the narrator benchmark; returns a JSON-ready dict (see :func:`~neuronarrator.eval.narrator_report.
    render_narrator_markdown`): ``config``, ``notes``, ``sets`` ({name: {description, n_sessions,
    n_patients, methods: {method: {scores}}, heads, examples}}), ``real_files`` and ``timing_s``."""
    from neuronarrator.eval.bandpower import bandpower_matrix
    from neuronarrator.eval.narrator_baselines import (
        ClassifierRendererBaseline,
        RetrievalBaseline,
        TextPriorBaseline,
    )
    from neuronarrator.eval.text_metrics import findings_scores
    from neuronarrator.narrator.pipeline import Narrator

    start = time.perf_counter()
    seed, n_boot = int(config.get("seed", 0)), int(config.get("n_boot", DEFAULT_N_BOOT))
    threshold = float(config.get("threshold", 0.5))
    max_sessions = config.get("max_sessions", DEFAULT_MAX_SESSIONS)
    max_sessions = None if max_sessions is None else int(max_sessions)
    notes: list[str] = []
    timing: dict[str, float] = {}

    train = _load(config["corpus"], "train", None)
    x_train = bandpower_matrix(train["sessions"])
    baselines = {
        "retrieval": RetrievalBaseline().fit(x_train, train["refs"]),
        "classifier_renderer": ClassifierRendererBaseline(seed=seed).fit(x_train, train["truth"]),
        "text_prior": TextPriorBaseline().fit(train["refs"]),
    }
    timing["baselines_fit"] = time.perf_counter() - start
    narrator = Narrator(config["stage1_checkpoint"], config["narrator_checkpoint"], threshold=threshold, seed=seed)
    stage1_val = stage1_validation(config["stage1_checkpoint"])

    specs = [("heldout", config["corpus"], "test", "phantom held-out test split")]
    if config.get("shifted_corpus"):
        specs.append(
            (
                "shifted",
                config["shifted_corpus"],
                None,
                "distribution-shifted phantom (shift=1), all sessions",
            )
        )
    results: dict[str, Any] = {"config": dict(config), "notes": notes, "methods": list(METHODS),
                               "train": {"n_sessions": len(train["sessions"]), "features": "band power"},
                               "sets": {}, "real_files": [], "stage1_val": stage1_val}  # fmt: skip
    for name, corpus, split, description in specs:
        t0 = time.perf_counter()
        data = _load(corpus, split, max_sessions)
        if not data["sessions"]:
            notes.append(f"{name}: no sessions; not evaluated")
            continue
        sessions = data["sessions"]
        # the control: each session narrated from the next session's EEG (none keeps its own)
        outputs = [narrate_session(narrator, s, sessions[(i + 1) % len(sessions)] if len(sessions) > 1 else None)
                   for i, s in enumerate(sessions)]  # fmt: skip
        texts = {m: [o[m] for o in outputs] for m in ("narrator", "narrator_raw", "shuffled", "shuffled_raw")}
        x = bandpower_matrix(data["sessions"])
        texts.update({m: b.predict(x) for m, b in baselines.items()})
        truth, refs, groups = data["truth"], data["refs"], data["groups"]
        heads = [o["findings"] for o in outputs]
        block: dict[str, Any] = {
            "description": description, "n_sessions": len(truth), "n_patients": int(len(np.unique(groups))),
            "n_ecg_lead": sum(s.ecg_uv is not None for s in sessions),
            "methods": {m: text_scores(texts[m], truth, refs, groups, n_boot, seed, threshold) for m in METHODS},
            "heads": findings_scores(heads, truth, threshold=threshold),
            # chance: the next session's true findings as the prediction (the control's reference level)
            "chance": findings_scores([truth[(i + 1) % len(truth)] for i in range(len(truth))], truth,
                                      threshold=threshold),
            "faithfulness": {m: {f"{stage}_{k}": int(sum(o[f"{m}_faithfulness"][stage][k] for o in outputs))
                                 for stage in ("before", "after") for k in ("unsupported", "omitted")}
                             for m in ("narrator", "shuffled")},
            "examples": [{"session_id": data["sessions"][i].session_id, "reference": refs[i],
                          **{m: texts[m][i] for m in ("narrator", "narrator_raw", "shuffled_raw")}}
                         for i in range(min(2, len(truth)))],
        }  # fmt: skip
        lo, hi = macro_f1_ci(heads, truth, groups, n_boot, seed, threshold)
        block["heads"].update(macro_f1_lo=lo, macro_f1_hi=hi)
        results["sets"][name] = block
        timing[name] = time.perf_counter() - t0
        log.info("%s: macro F1 %s", name, {m: block["methods"][m]["macro_f1"] for m in METHODS})

    for path in config.get("real_files") or []:
        path = Path(path)
        if not path.is_file():
            notes.append(f"{path}: not found; skipped")
            continue
        try:
            results["real_files"].append(_real_file(path, narrator))
        except Exception as error:  # noqa: BLE001 — an unreadable real file is a note, not a failed suite
            notes.append(f"{path}: not evaluated ({type(error).__name__}: {error})")
    timing["total"] = time.perf_counter() - start
    results["timing_s"] = {k: round(v, 1) for k, v in timing.items()}
    return results
