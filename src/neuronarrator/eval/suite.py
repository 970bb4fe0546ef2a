"""``neuronarrator evaluate --suite clef``: CLEF's clinical benchmark on the sets we have.

Methods, all frozen, all read by the same linear probes (:mod:`.probes`):

* ``clef``: the aligned session Transformer's embedding (:mod:`.clef_embed`), and ``clef_pretrained``,
  the same model before alignment (the ablation that shows what report/EHR alignment adds);
* ``bandpower``: Welch band powers per channel (:mod:`.bandpower`), the classical baseline;
* short-window peers (:mod:`.peers`): trained from scratch on the corpus's 10-s train segments for
  ``peer_steps`` steps, then frozen, window embeddings mean-pooled per session. braindecode peers that
  cannot be imported are listed as not run, with the reason.

Sets (:mod:`.sets`): probes are fitted on the corpus's train+val sessions and scored on (1) its held-out
test split, (2) the distribution-shifted phantom set (another corpus built with ``shift=1``, never
trained on), (3) the EEGMMI eyes-open/closed crops (leave-one-pair-out probes; a sanity check). Zero-shot
prompts (:mod:`.zeroshot`) score each finding on (1) and (2), and PDR presence on (3). Figures are AUROC,
AUPR and balanced accuracy per task with patient-clustered bootstrap CIs, their means, and CLEF's mean
AUROC minus each other method's with a paired bootstrap CI and its win count.

Config (the ``evaluate`` section of a CLEF config, over its shared keys): ``corpus``, ``checkpoint``
(align stage; default the ``stages.align.checkpoint``), ``shifted_corpus`` (optional), ``eegmmi``
(directory, optional), ``peers`` (names), ``peer_steps``, ``peer_batch_size``, ``peer_lr``, ``n_boot``,
``seed``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from neuronarrator.eval.metrics import binary_metrics, bootstrap_ci, paired_mean_difference
from neuronarrator.eval.probes import evaluate_probes, fit_probe
from neuronarrator.eval.sets import EvalSet, eegmmi_set, phantom_set
from neuronarrator.eval.tasks import MIN_PER_CLASS
from neuronarrator.eval.zeroshot import eyes_prompt_table, prompt_table, zero_shot_scores
from neuronarrator.train.loop import TrainConfigError

log = logging.getLogger(__name__)

DEFAULT_PEERS = ("biot_style", "labram_style", "biot", "labram", "cbramod")


def suite_config(document: Mapping[str, Any]) -> dict[str, Any]:
    """The flat evaluate config of a CLEF config document (see the module docstring)."""
    section = document.get("evaluate")
    if not isinstance(section, Mapping):
        raise TrainConfigError("the config has no 'evaluate' section")
    config = {**{k: v for k, v in document.items() if k not in ("stages", "evaluate")}, **section}
    stages = document.get("stages") or {}
    if "checkpoint" not in config and "checkpoint" in (stages.get("align") or {}):
        config["checkpoint"] = stages["align"]["checkpoint"]
    missing = [k for k in ("corpus", "checkpoint") if k not in config]
    if missing:
        raise TrainConfigError(f"the evaluate config lacks {', '.join(missing)}")
    return config


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if not r.get("skipped")]
    out: dict[str, Any] = {"n_tasks": len(done)}
    for metric in ("auroc", "aupr", "balanced_accuracy"):
        values = [r[metric] for r in done if r.get(metric) is not None and np.isfinite(r[metric])]
        out[f"mean_{metric}"] = float(np.mean(values)) if values else None
    return out


def leave_one_group_out(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """Out-of-fold probe scores, one fold per group (EEGMMI: per crop pair)."""
    scores = np.full(len(y), np.nan)
    for g in np.unique(groups):
        held = groups == g
        probe = fit_probe(x[~held], y[~held], groups[~held], seed=seed)
        scores[held] = probe.decision(x[held])
    return scores


def _zero_shot_rows(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], groups: np.ndarray,
                    n_boot: int, seed: int, task_of: Callable[[str], str]) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for code, score in scores.items():
        y = labels.get(task_of(code))
        if y is None:
            continue
        known = ~np.isnan(y)
        n_pos, n_neg = int(y[known].sum()), int((1 - y[known]).sum())
        if min(n_pos, n_neg) < MIN_PER_CLASS:
            rows.append({"task": task_of(code), "skipped": f"{n_pos} positive, {n_neg} negative"})
            continue
        m = binary_metrics(y[known], score[known])
        ci = bootstrap_ci(y[known], score[known], groups[known], n_boot=n_boot, seed=seed)
        rows.append({"task": task_of(code), "n": int(known.sum()), "n_pos": n_pos, "auroc": m["auroc"],
                     "auroc_lo": ci["auroc"][0], "auroc_hi": ci["auroc"][1]})  # fmt: skip
    return rows


class _Methods:
    """Embeds every set with every method, once."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.not_run: dict[str, str] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self._clef = None
        self._clef_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._token_cache: dict[str, list] = {}
        self._prompt_cache: dict[str, dict[str, np.ndarray]] = {}

    def clef(self):
        if self._clef is None:
            from neuronarrator.eval.clef_embed import ClefEmbedder

            self._clef = ClefEmbedder(self.config["checkpoint"])
        return self._clef

    def clef_tokens(self, eval_set: EvalSet) -> list:
        if eval_set.name not in self._token_cache:
            self._token_cache[eval_set.name] = self.clef().tokens(eval_set.sessions)
        return self._token_cache[eval_set.name]

    def clef_embed(self, eval_set: EvalSet) -> tuple[np.ndarray, np.ndarray]:
        """(session embeddings, text-space projections) of a set, computed once per set."""
        if eval_set.name not in self._clef_cache:
            self._clef_cache[eval_set.name] = self.clef().embed(
                eval_set.sessions, tokens=self.clef_tokens(eval_set)
            )
        return self._clef_cache[eval_set.name]

    def prompts(self, key: str, table: dict[str, list[str]]) -> dict[str, np.ndarray]:
        if key not in self._prompt_cache:
            self._prompt_cache[key] = self.clef().embed_prompts(table)
        return self._prompt_cache[key]

    def embedders(self) -> dict[str, Callable[[EvalSet], np.ndarray]]:
        from neuronarrator.eval.bandpower import bandpower_matrix
        from neuronarrator.eval.peers import embed_sessions, peer_available, train_peer

        out: dict[str, Callable[[EvalSet], np.ndarray]] = {
            "clef": lambda s: self.clef_embed(s)[0],
            # ablation: the same session model before alignment (masked-token pretraining only)
            "clef_pretrained": lambda s: self.clef().embed_pretrained(self.clef_tokens(s)),
            "bandpower": lambda s: bandpower_matrix(s.sessions),
        }
        for name in self.config.get("peers", DEFAULT_PEERS):
            ok, reason = peer_available(name)
            if not ok:
                self.not_run[name] = reason
                continue
            start = time.perf_counter()
            model = train_peer(name, self.config["corpus"], steps=int(self.config.get("peer_steps", 300)),
                               batch_size=int(self.config.get("peer_batch_size", 32)),
                               lr=float(self.config.get("peer_lr", 1e-3)), seed=int(self.config.get("seed", 0)))  # fmt: skip
            self.info[name] = {"n_params": model.n_params, "steps": model.config["steps"],
                               "train_s": round(time.perf_counter() - start, 1),
                               "final_loss": model.history[-1][1] if model.history else None}  # fmt: skip
            out[name] = lambda s, model=model: embed_sessions(model, s.sessions)
        return out


def tokenizer_report(tokenizer, test: EvalSet) -> dict[str, Any]:
    """Reconstruction error, codebook usage and perplexity of the trained tokenizer on held-out sessions,
    and the token counts of 20 minutes under the trained and the paper configs."""
    import torch

    from neuronarrator.models.session_tokens import signal_tiles
    from neuronarrator.models.tiles import n_tokens
    from neuronarrator.models.tokenizer import TokenizerConfig
    from neuronarrator.train.tokenizer_stage import evaluate_tokenizer

    tiles = [signal_tiles(s, tokenizer.config) for s in test.sessions]
    x = torch.cat([t.tiles[t.tile_ok] for t in tiles]) if tiles else torch.zeros(0)
    m = torch.cat([t.column_mask[t.tile_ok] for t in tiles]) if tiles else torch.zeros(0)
    out = evaluate_tokenizer(tokenizer, x, m) if len(tiles) else {"n_tiles": 0}
    out["tokens_per_20_min"] = n_tokens(1200.0, tokenizer.config)
    out["tokens_per_20_min_paper"] = n_tokens(1200.0, TokenizerConfig.paper())
    out["codebook_size"] = tokenizer.config.codebook_size
    return out


def run_clef_suite(config: Mapping[str, Any]) -> dict[str, Any]:
    """Run the whole benchmark; returns a JSON-ready dict (see :func:`render_markdown`)."""
    n_boot, seed = int(config.get("n_boot", 1000)), int(config.get("seed", 0))
    train = phantom_set(config["corpus"], ("train", "val"), "train", "phantom train+val (probe fitting)")
    sets = {"heldout": phantom_set(config["corpus"], ("test",), "heldout", "phantom held-out test split")}
    if config.get("shifted_corpus"):
        sets["shifted"] = phantom_set(config["shifted_corpus"], (None,), "shifted",
                                      "distribution-shifted phantom (shift=1), all sessions")  # fmt: skip
    eegmmi, notes = None, []
    if config.get("eegmmi"):
        try:
            eegmmi = eegmmi_set(config["eegmmi"])
        except FileNotFoundError as error:
            notes.append(f"EEGMMI not evaluated: {error}")
    methods = _Methods(config)
    embedders = methods.embedders()
    results: dict[str, Any] = {"config": {k: v for k, v in config.items()}, "sets": {}, "notes": notes,
                               "not_run": methods.not_run, "peers": methods.info}  # fmt: skip
    features = {name: {"train": embed(train)} for name, embed in embedders.items()}
    for set_name, eval_set in sets.items():
        block: dict[str, Any] = {"description": eval_set.description, "n_sessions": len(eval_set),
                                 "n_patients": int(len(np.unique(eval_set.groups))), "methods": {}}  # fmt: skip
        scores_by_method = {}
        for name, embed in embedders.items():
            x = features[name][set_name] = embed(eval_set)
            rows, scores = evaluate_probes(features[name]["train"], train.labels, train.groups, x, eval_set.labels,
                                           eval_set.groups, n_boot=n_boot, seed=seed)  # fmt: skip
            block["methods"][name] = {"summary": _summary(rows), "rows": rows}
            scores_by_method[name] = scores
            log.info("%s / %s: %s", set_name, name, block["methods"][name]["summary"])
        tasks = {t: eval_set.labels[t] for t in scores_by_method["clef"]}
        block["vs_clef"] = {
            name: paired_mean_difference(tasks, scores_by_method["clef"], scores, eval_set.groups, n_boot=n_boot, seed=seed)
            for name, scores in scores_by_method.items() if name != "clef" and tasks
        }  # fmt: skip
        if not tasks:
            notes.append(
                f"{set_name}: no task has {MIN_PER_CLASS} sessions of each class; nothing to compare"
            )
        _, text = methods.clef_embed(eval_set)
        block["zero_shot"] = {}
        for family in ("summary", "plain"):
            prompts = methods.prompts(f"findings/{family}", prompt_table(family))
            block["zero_shot"][family] = _zero_shot_rows(zero_shot_scores(text, prompts), eval_set.labels,
                                                         eval_set.groups, n_boot, seed, lambda c: f"finding:{c}")  # fmt: skip
        results["sets"][set_name] = block
    if eegmmi is not None:
        results["sets"]["eegmmi"] = _eegmmi_block(eegmmi, embedders, methods, n_boot, seed)
    results["tokenizer"] = tokenizer_report(methods.clef().tokenizer, sets["heldout"])
    return results


def _eegmmi_block(eegmmi: EvalSet, embedders, methods: _Methods, n_boot: int, seed: int) -> dict[str, Any]:
    y, pairs = eegmmi.labels["eyes_closed"], eegmmi.groups
    block: dict[str, Any] = {"description": eegmmi.description, "n_sessions": len(eegmmi), "methods": {}}
    for name, embed in embedders.items():
        scores = leave_one_group_out(embed(eegmmi), y, pairs, seed)
        m = binary_metrics(y, scores)
        ci = bootstrap_ci(y, scores, pairs, n_boot=n_boot, seed=seed)
        block["methods"][name] = {"auroc": m["auroc"], "auroc_lo": ci["auroc"][0], "auroc_hi": ci["auroc"][1],
                                  "balanced_accuracy": m["balanced_accuracy"]}  # fmt: skip
    _, text = methods.clef_embed(eegmmi)
    block["zero_shot"] = {}
    for family in ("summary", "plain"):
        score = zero_shot_scores(text, methods.prompts(f"eyes/{family}", eyes_prompt_table(family)))["pdr"]
        block["zero_shot"][family] = {"auroc": binary_metrics(y, score)["auroc"]}
    return block
