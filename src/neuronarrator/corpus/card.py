"""The corpus card: what a corpus holds and how it was made (``card.json`` for programs, ``CARD.md``
for people). Written last, after the manifest: a directory with a card is a finished build.

The card carries what the manifest must not (timestamps, build time, the git commit), and the sha256 of
every shard's ``shard.json`` (which itself holds the sha256 of every file of the shard) and of the
manifest's content, so that ``corpus verify`` can tell a corrupted or replaced shard from a good one.

What the label statistics count. ``prevalence`` is over the sessions and segments whose labels are complete
(``labels_complete``: a report, the phantom): a session with partial labels (seizure times, a hypnogram)
does not say a finding is absent, so counting it would dilute every rate; ``labelled`` gives the counts
the fractions are over. ``impressions`` counts session rows, an unknown impression as ``"unknown"``;
``states`` counts the dominant state per row kind, an unknown state (null) as ``"unknown"``;
``narrative_origins`` counts ``report`` / ``rendered`` / ``none`` per row kind.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

import neuronarrator
from neuronarrator.clinical.findings import CODES
from neuronarrator.corpus.labels import SPLITS
from neuronarrator.corpus.manifest import file_digest, write_text
from neuronarrator.corpus.store import SHARD_JSON, shard_name, shard_path

CARD_JSON = "card.json"
CARD_MD = "CARD.md"


def git_commit() -> str | None:
    """The commit of the neuronarrator checkout this code runs from (None outside a git checkout)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(neuronarrator.__file__).parent,
                              capture_output=True, text=True, timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def counts(table: pa.Table) -> dict[str, dict[str, int]]:
    """Patients, sessions and segments per split and in total."""
    kind = table.column("kind").to_pylist()
    split = table.column("split").to_pylist()
    patients = [f"{s}\x00{p}" for s, p in zip(table.column("source").to_pylist(), table.column("patient").to_pylist(),
                                              strict=True)]  # fmt: skip
    out: dict[str, dict[str, int]] = {}
    for name in (*SPLITS, "total"):
        keep = [i for i, s in enumerate(split) if name == "total" or s == name]
        out[name] = {
            "patients": len({patients[i] for i in keep}),
            "sessions": sum(kind[i] == "session" for i in keep),
            "segments": sum(kind[i] == "segment" for i in keep),
        }
    return out


def prevalence(table: pa.Table) -> dict[str, dict[str, float]]:
    """Fraction of sessions and of segments carrying each code, over those with complete labels (module
    docstring; codes never seen are listed at 0)."""
    out = {}
    kinds = table.column("kind").to_pylist()
    codes = table.column("codes").to_pylist()
    complete = table.column("labels_complete").to_pylist()
    for kind in ("session", "segment"):
        rows = [c for k, c, full in zip(kinds, codes, complete, strict=True) if k == kind and full]
        seen = Counter(code for row in rows for code in row)
        out[f"{kind}s"] = {code: round(seen[code] / len(rows), 6) if rows else 0.0 for code in CODES}
    return out


def label_counts(table: pa.Table) -> dict[str, Any]:
    """``labelled`` (rows with complete labels, per kind), ``narrative_origins`` and ``states`` (per kind;
    a null state as ``"unknown"``) and ``impressions`` (session rows; null as ``"unknown"``)."""
    kinds = table.column("kind").to_pylist()
    complete = table.column("labels_complete").to_pylist()
    origins = table.column("narrative_origin").to_pylist()
    impressions = Counter(i or "unknown" for k, i in zip(kinds, table.column("impression").to_pylist(), strict=True)
                          if k == "session")  # fmt: skip
    states = table.column("state").to_pylist()
    return {
        "labelled": {f"{kind}s": sum(k == kind and c for k, c in zip(kinds, complete, strict=True))
                     for kind in ("session", "segment")},
        "narrative_origins": {f"{kind}s": dict(sorted(Counter(o for k, o in zip(kinds, origins, strict=True)
                                                              if k == kind).items()))
                              for kind in ("session", "segment")},
        "impressions": dict(sorted(impressions.items())),
        "states": {f"{kind}s": dict(sorted(Counter(s or "unknown" for k, s in zip(kinds, states, strict=True)
                                                   if k == kind).items()))
                   for kind in ("session", "segment")},
    }  # fmt: skip


def card_dict(out: Path, table: pa.Table, params: dict[str, Any], infos: list[dict[str, Any]], *,
              manifest_sha256: str, started: float, seconds: float, shards_built: int) -> dict[str, Any]:  # fmt: skip
    """Everything ``card.json`` holds (see the module docstring)."""
    per_source: dict[str, Counter] = {}
    kinds = table.column("kind").to_pylist()
    for source, kind in zip(table.column("source").to_pylist(), kinds, strict=True):
        per_source.setdefault(source, Counter())[kind] += 1
    skipped = [s for info in infos for s in info["skipped"]]
    return {
        "format": params["format"],
        "code": {"neuronarrator": neuronarrator.__version__, "git_commit": git_commit()},
        "built_at": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 2),
        "shards_built_by_last_run": shards_built,
        "parameters": params,
        "sources": [
            {**entry, "sessions": per_source.get(entry["name"], Counter())["session"],
             "segments": per_source.get(entry["name"], Counter())["segment"],
             "skipped": sum(s["source"] == entry["name"] for s in skipped)}
            for entry in params["sources"]
        ],  # fmt: skip
        "counts": counts(table),
        **label_counts(table),
        "prevalence": prevalence(table),
        "skipped": skipped,
        "manifest": {"rows": table.num_rows, "sha256": manifest_sha256},
        "shards": {shard_name(i): file_digest(shard_path(out, i) / SHARD_JSON) for i in range(len(infos))},
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The human-readable card."""
    lines = ["# NeuroCorpus card", "",
             f"Built {card['built_at']} in {card['build_seconds']:.0f} s by neuronarrator "
             f"{card['code']['neuronarrator']} (commit {card['code']['git_commit'] or 'unknown'}); format {card['format']}.",
             "", "## Sources", "", "| source | root | options | sessions | segments | skipped |", "| --- | --- | --- | --: | --: | --: |"]  # fmt: skip
    for s in card["sources"]:
        options = "&".join(f"{k}={v}" for k, v in s["options"].items()) or "-"
        lines.append(f"| {s['name']} | {s['root'] or '-'} | {options} | {s['sessions']} | {s['segments']} | {s['skipped']} |")
    lines += ["", "## Splits (by patient)", "", "| split | patients | sessions | segments |", "| --- | --: | --: | --: |"]
    for split, c in card["counts"].items():
        lines.append(f"| {split} | {c['patients']} | {c['sessions']} | {c['segments']} |")
    def listed(counter: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in counter.items()) or "-"

    labelled, origins = card["labelled"], card["narrative_origins"]
    states = card["states"]
    lines += ["", "## Labels", "", f"Impressions (sessions): {listed(card['impressions'])}.",
              f"States: sessions {listed(states['sessions'])}; segments {listed(states['segments'])}.",
              f"Narrative origins: sessions {listed(origins['sessions'])}; segments {listed(origins['segments'])}.",
              "", "## Finding prevalence", "",
              f"Over the {labelled['sessions']} sessions and {labelled['segments']} segments with complete labels "
              "(a report, the phantom); partially labelled sessions say nothing of absent findings.", "",
              "| code | sessions | segments |", "| --- | --: | --: |"]  # fmt: skip
    p = card["prevalence"]
    for code in CODES:
        if p["sessions"][code] or p["segments"][code]:
            lines.append(f"| {code} | {p['sessions'][code]:.1%} | {p['segments'][code]:.1%} |")
    lines += ["", "## Build parameters", "", "```json", json.dumps(card["parameters"], indent=1), "```"]
    if card["skipped"]:
        lines += ["", f"## Skipped ({len(card['skipped'])})", ""]
        lines += [f"- {s['source']}:{s['key']}: {s['file']}: {s['reason']}" for s in card["skipped"]]
    return "\n".join(lines) + "\n"


def write_card(out: Path, table: pa.Table, params: dict[str, Any], infos: list[dict[str, Any]], **kwargs: Any) -> dict:
    """Write ``card.json`` and ``CARD.md`` atomically; returns the card."""
    card = card_dict(out, table, params, infos, **kwargs)
    write_text(out / CARD_JSON, json.dumps(card, indent=1))
    write_text(out / CARD_MD, card_markdown(card))
    return card
