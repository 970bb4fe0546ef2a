"""The CLEF benchmark's results (:func:`~neuronarrator.eval.suite.run_clef_suite`) as a Markdown page."""

from __future__ import annotations

from typing import Any

SET_TITLES = {"heldout": "Held-out phantom (test split)", "shifted": "Distribution-shifted phantom (zero-shot transfer)",
              "eegmmi": "Real EEG: EEGMMI eyes open vs closed"}  # fmt: skip


def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ci(row: dict[str, Any], key: str) -> str:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return f"{_f(row.get(key))} [{_f(lo, 2)}, {_f(hi, 2)}]" if lo is not None else _f(row.get(key))


def _probe_set(lines: list[str], block: dict[str, Any]) -> None:
    patients = "patient" if block["n_patients"] == 1 else "patients"
    lines.append(
        f"{block['description']}: {block['n_sessions']} sessions, {block['n_patients']} {patients}.\n"
    )
    lines.append(
        "| method | tasks | mean AUROC | mean AUPR | mean balanced acc. | CLEF − method, mean AUROC [95% CI] | CLEF better on |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for name, m in block["methods"].items():
        s = m["summary"]
        vs = block["vs_clef"].get(name)
        diff = f"{vs['diff']:+.3f} [{vs['ci'][0]:+.3f}, {vs['ci'][1]:+.3f}]" if vs else "–"
        wins = f"{vs['wins_a']} of {vs['n_tasks']}" if vs else "–"
        lines.append(f"| {name} | {s['n_tasks']} | {_f(s['mean_auroc'])} | {_f(s['mean_aupr'])} | "
                     f"{_f(s['mean_balanced_accuracy'])} | {diff} | {wins} |")  # fmt: skip
    names = list(block["methods"])
    tasks = [r["task"] for r in block["methods"][names[0]]["rows"] if not r.get("skipped")]
    lines.append("\nAUROC per task [patient-clustered 95% bootstrap CI]:\n")
    lines.append("| task | n (pos) | " + " | ".join(names) + " |")
    lines.append("|---|---|" + "---|" * len(names))
    by = {n: {r["task"]: r for r in block["methods"][n]["rows"]} for n in names}
    for task in tasks:
        first = by[names[0]][task]
        cells = " | ".join(_ci(by[n][task], "auroc") for n in names)
        lines.append(f"| {task} | {first['n_eval']} ({first['n_pos_eval']}) | {cells} |")
    skipped = [r for r in block["methods"][names[0]]["rows"] if r.get("skipped")]
    if skipped:
        lines.append(f"\nNot evaluable here ({len(skipped)} tasks, too few of a class): "
                     + "; ".join(f"{r['task']} ({r['skipped']})" for r in skipped) + ".")  # fmt: skip
    means = []
    for family in ("summary", "plain"):
        values = [r["auroc"] for r in block["zero_shot"][family] if not r.get("skipped") and r.get("auroc") is not None]
        means.append(f"{_f(sum(values) / len(values)) if values else '–'} ({family}, {len(values)} findings)")
    lines.append("\nZero-shot (CLEF, prompts vs a normal-EEG prompt), AUROC per finding; mean: "
                 f"{'; '.join(means)}.\n")  # fmt: skip
    lines.append("| finding | n (pos) | summary prompts | plain prompts |")
    lines.append("|---|---|---|---|")
    plain = {r["task"]: r for r in block["zero_shot"]["plain"]}
    for r in block["zero_shot"]["summary"]:
        if r.get("skipped"):
            continue
        lines.append(
            f"| {r['task']} | {r['n']} ({r['n_pos']}) | {_ci(r, 'auroc')} | {_ci(plain.get(r['task'], {}), 'auroc')} |"
        )
    lines.append("")


def render_markdown(results: dict[str, Any], command: str) -> str:
    lines = ["# CLEF benchmark", "", f"Made by `{command}`; every number below comes from that run.", ""]
    for name, reason in results["not_run"].items():
        lines.append(f"- **{name}: not run** — {reason}")
    for name, info in results["peers"].items():
        lines.append(f"- {name}: {info['n_params']:,} parameters, trained from scratch for {info['steps']} steps, "
                     f"final training loss {_f(info['final_loss'])}")  # fmt: skip
    for note in results["notes"]:
        lines.append(f"- {note}")
    lines.append("")
    for set_name, block in results["sets"].items():
        lines.append(f"## {SET_TITLES.get(set_name, set_name)}\n")
        if set_name == "eegmmi":
            lines.append(f"{block['description']}; {block['n_sessions']} crops, leave-one-pair-out probes. "
                         "The run is the label (one subject, two runs), so this checks that each embedding "
                         "carries the eyes-closed alpha on real EEG; it is not a benchmark.\n")  # fmt: skip
            lines.append("| method | AUROC [95% CI over crop pairs] | balanced acc. |")
            lines.append("|---|---|---|")
            for name, m in block["methods"].items():
                lines.append(f"| {name} | {_ci(m, 'auroc')} | {_f(m['balanced_accuracy'])} |")
            zs = block["zero_shot"]
            lines.append(f"\nZero-shot PDR prompt vs no-PDR prompt (CLEF): AUROC {_f(zs['summary']['auroc'])} "
                         f"(summary prompts), {_f(zs['plain']['auroc'])} (plain prompts).\n")  # fmt: skip
        else:
            _probe_set(lines, block)
    t = results["tokenizer"]
    lines.append("## Tokenizer on held-out sessions\n")
    lines.append(f"- tokens per 20 minutes: {t['tokens_per_20_min']} with the trained config, "
                 f"{t['tokens_per_20_min_paper']} with the paper config")  # fmt: skip
    lines.append(f"- {t.get('n_tiles', 0)} held-out tiles: L1 {_f(t.get('l1'))}, L2 {_f(t.get('l2'))} (log(psd+1) units), "
                 f"codebook usage {_f(t.get('codebook_usage'))} of {t['codebook_size']} codes, "
                 f"perplexity {_f(t.get('perplexity'), 1)}")  # fmt: skip
    return "\n".join(lines) + "\n"
