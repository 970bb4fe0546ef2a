"""The narrator benchmark's results (:func:`~neuronarrator.eval.narrator_suite.run_narrator_suite`) as a
Markdown page."""

from __future__ import annotations

from typing import Any

__all__ = ["render_narrator_markdown"]

SET_TITLES = {"heldout": "Held-out phantom (test split)", "shifted": "Distribution-shifted phantom"}
METHOD_NOTES = {
    "narrator": "stage-1 findings + narrator text, repaired against them (the pipeline)",
    "narrator_raw": "the narrator's text before repair",
    "shuffled": "control: the whole pipeline fed another session's EEG (its findings, its repaired text), "
                "scored against this session's truth; must fall to the chance row",
    "shuffled_raw": "control: the narrator fed another session's EEG, before repair",
    "retrieval": "nearest training session's narrative (band power)",
    "classifier_renderer": "per-code classifiers on band power + template renderer",
    "text_prior": "the medoid training narrative for every session",
}


def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _set(lines: list[str], block: dict[str, Any]) -> None:
    patients = "patient" if block["n_patients"] == 1 else "patients"
    n_lead = block.get("n_ecg_lead", 0)
    carry = "Every session carries" if n_lead == block["n_sessions"] else f"{n_lead} of them carry"
    lead = (f" {carry} an ECG lead, from which the pipeline reads ECG artifact (as from a file's EKG channel)."
            if n_lead else " No session carries an ECG lead.")
    lines.append(
        f"{block['description']}: {block['n_sessions']} sessions, {block['n_patients']} {patients}.{lead}\n"
    )
    lines.append("| method | macro F1 [95% CI] | micro F1 | laterality acc. | PDR error (Hz) | state acc. | "
                 "impression acc. | unsupported rate | BLEU-4 | ROUGE-L | BERTScore-MiniLM |")  # fmt: skip
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in block["methods"].items():
        ci = f"{_f(s['macro_f1'])} [{_f(s['macro_f1_lo'], 2)}, {_f(s['macro_f1_hi'], 2)}]"
        lines.append(f"| {name} | {ci} | {_f(s['micro_f1'])} | {_f(s['laterality_accuracy'])} | "
                     f"{_f(s['pdr_freq_abs_error_hz'], 2)} | {_f(s['state_accuracy'])} | {_f(s['impression_accuracy'])} | "
                     f"{_f(s['unsupported_rate'])} | {_f(s['bleu4'])} | {_f(s['rouge_l'])} | {_f(s['bertscore_f1'])} |")  # fmt: skip
    h = block["heads"]
    lines.append(f"\nStage-1 heads' findings (no text): macro F1 {_f(h['macro_f1'])} "
                 f"[{_f(h.get('macro_f1_lo'), 2)}, {_f(h.get('macro_f1_hi'), 2)}], micro F1 {_f(h['micro_f1'])}, "
                 f"laterality {_f(h['laterality_accuracy'])}, PDR error {_f(h['pdr_freq_abs_error_hz'], 2)} Hz, "
                 f"state {_f(h['state_accuracy'])}, impression {_f(h['impression_accuracy'])}.")  # fmt: skip
    if block.get("chance"):
        c = block["chance"]
        lines.append(f"Chance (the next session's true findings as the prediction): macro F1 {_f(c['macro_f1'])}, "
                     f"micro F1 {_f(c['micro_f1'])}, laterality {_f(c['laterality_accuracy'])}, "
                     f"state {_f(c['state_accuracy'])}, impression {_f(c['impression_accuracy'])}.")  # fmt: skip
    lines.append("")
    for name, f in block["faithfulness"].items():
        if name != "narrator":  # the control runs each session's pipeline once, for its predecessor: same sums
            continue
        lines.append(f"- {name}: against the heads' findings, {f['before_unsupported']} unsupported / "
                     f"{f['before_omitted']} omitted statements before repair, {f['after_unsupported']} / "
                     f"{f['after_omitted']} after (all sessions).")  # fmt: skip
    names = list(block["methods"])
    codes = sorted({c for n in names for c in block["methods"][n]["per_code"]})
    if codes:
        lines.append("\nF1 per finding code (text read back by the labeler):\n")
        lines.append("| code | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for code in codes:
            cells = " | ".join(_f(block["methods"][n]["per_code"].get(code, {}).get("f1")) for n in names)
            lines.append(f"| {code} | {cells} |")
    for example in block.get("examples", []):
        lines.append(f"\nExample `{example['session_id']}`:\n")
        for key in ("reference", "narrator", "narrator_raw", "shuffled_raw"):
            lines.append(f"- {key}: {_one_line(example[key])}")
    lines.append("")


def render_narrator_markdown(results: dict[str, Any], command: str) -> str:
    lines = ["# Narrator benchmark", "", f"Made by `{command}`; every number below comes from that run.", ""]
    lines.append(f"Baselines fitted on {results['train']['n_sessions']} training sessions' band-power features. "
                 "Clinical scores read each text back with the labeler and compare with the true findings; "
                 "macro F1 CIs resample patients (percentile bootstrap). BERTScore uses the offline MiniLM "
                 "without IDF or rescaling (not comparable with published values).\n")  # fmt: skip
    for name in results["methods"]:
        lines.append(f"- `{name}`: {METHOD_NOTES.get(name, '')}")
    v = results.get("stage1_val") or {}
    if v:
        lines.append(f"\nStage 1 on its val split ({v.get('n_segments')} segments"
                     + (f", {v['n_sessions']} sessions" if v.get("n_sessions") else "") + "; the calibrations are fitted "
                     "and measured there, so the 'after' figures are in-sample): segment macro AUROC "
                     f"{_f(v.get('segment_macro_auroc'))}, ECE {_f(v.get('segment_ece_before'))} → "
                     f"{_f(v.get('segment_ece_after'))}; state accuracy {_f(v.get('state_accuracy'))}, side accuracy "
                     f"{_f(v.get('side_accuracy'))}"
                     + (f"; sessions (max over segments): macro AUROC {_f(v.get('session_macro_auroc'))}, macro F1 "
                        f"{_f(v.get('session_macro_f1_max'))} before / {_f(v.get('session_macro_f1_calibrated'))} after "
                        f"the session calibration, ECE {_f(v.get('session_ece_before'))} → "
                        f"{_f(v.get('session_ece_after'))}" if v.get("n_sessions") else "") + ".\n")  # fmt: skip
    meteor = next((m["meteor_status"] for b in results["sets"].values() for m in b["methods"].values()), None)
    if meteor and meteor != "computed":
        lines.append(f"- METEOR not computed: {meteor}")
    for note in results["notes"]:
        lines.append(f"- {note}")
    lines.append("")
    for set_name, block in results["sets"].items():
        lines.append(f"## {SET_TITLES.get(set_name, set_name)}\n")
        _set(lines, block)
    if results["real_files"]:
        lines.append("## Real recordings (no reference report: reported, not scored)\n")
        lines.append(
            "| file | duration (s) | montage | state (probability) | impression | findings | PDR claimed (Hz) | "
            "PDR amplitude (µV p-p) | PDR peak over 1/f (dB) | O1/O2 peak measured (Hz) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in results["real_files"]:
            rec, fd, ex = r["recording"], r["findings"], r.get("findings_extras") or {}
            codes = ", ".join(f"{f['code']} {f['probability']:.2f}" for f in fd["findings"]) or "none"
            state = f"{fd.get('state') or '–'} ({_f(ex.get('state_probability'), 2)})"
            approx = rec.get("channels_approximated") or {}
            montage = rec.get("montage", "–") + (f" ({len(approx)} rows approximated)" if approx else "")
            lines.append(f"| {r['file']} | {_f(rec.get('duration_s'), 1)} | {montage} | {state} | "
                         f"{fd.get('impression') or '–'} | {codes} | {_f(r['pdr_claimed_hz'], 2)} | "
                         f"{_f(ex.get('pdr_amplitude_uv'), 1)} | {_f(ex.get('pdr_peak_to_background_db'), 1)} | "
                         f"{_f(r['pdr_measured']['frequency_hz'], 2)} |")  # fmt: skip
        for r in results["real_files"]:
            lines.append(f"\n`{r['file']}`: {_one_line(r['narrative'], 600)}")
        lines.append("")
    t = results.get("timing_s", {})
    if t:
        lines.append("Time (s): " + ", ".join(f"{k} {v}" for k, v in t.items()) + ".")
    return "\n".join(lines) + "\n"
