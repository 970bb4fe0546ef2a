"""Training stages: a config dict in, a trained checkpoint and a metrics dict out (``STAGES``).

CLEF trains in order: ``tokenizer`` (VQ-GAN on spectrogram tiles), ``session`` (masked-token pretraining
of the session Transformer on the tokenizer's codes), ``align`` (contrastive alignment of session
embeddings with report summaries and EHR). NeuroNarrator trains ``stage1`` (waveform and topomap
encoders aligned by InfoNCE, with finding heads) then ``narrator`` (state-space bridge and language model
on the session narratives). Each stage function is ``(config, *, resume) -> dict`` with at
least ``checkpoint``, ``step``, ``history`` (losses) and ``val`` (metrics on the val split).
:func:`train_all` runs every stage of a sectioned config in order (``neuronarrator train all``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from neuronarrator.io.errors import NeuroNarratorError

log = logging.getLogger(__name__)


def _tokenizer(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.tokenizer_stage import train_tokenizer

    return train_tokenizer(config, resume=resume)


def _session(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.session_stage import train_session

    return train_session(config, resume=resume)


def _align(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.align_stage import train_align

    return train_align(config, resume=resume)


def _stage1(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.stage1_stage import train_stage1

    return train_stage1(config, resume=resume)


def _narrator(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.narrator_stage import train_narrator

    return train_narrator(config, resume=resume)


#: Stage name -> function ``(config, *, resume) -> metrics dict``, in training order.
STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "tokenizer": _tokenizer,  # CLEF
    "session": _session,
    "align": _align,
    "stage1": _stage1,  # NeuroNarrator
    "narrator": _narrator,
}

#: The val number :func:`train_all` reports for each stage (where the stage's ``val`` holds one); a dotted
#: name reads into nested val dicts.
MAIN_METRIC = {"tokenizer": "l1", "session": "loss", "align": "text_top1", "stage1": "presence.macro_auroc",
               "narrator": "loss"}  # fmt: skip


class StageFailedError(NeuroNarratorError):
    """A stage of ``train all`` failed with one of the project's errors: its message, the stage named,
    and its exit code."""

    def __init__(self, stage: str, error: NeuroNarratorError):
        self.stage, self.error = stage, error
        self.exit_code = error.exit_code
        super().__init__(f"train all stopped at the {stage} stage (earlier stages' checkpoints are kept): {error}")


def finished_result(config: Mapping[str, Any], stage: str) -> dict[str, Any] | None:
    """The stage result stored in ``config``'s checkpoint when it is a finished ``stage`` checkpoint at
    (or past) the configured ``steps``, trained with this config (up to the resumable keys); else None.

    Such a stage has nothing left to train: :func:`train_all` skips it without rewriting the checkpoint
    (rerunning the stage function would evaluate the val split again and rewrite the manifest)."""
    from neuronarrator.train.loop import config_differences, load_checkpoint

    path = Path(config["checkpoint"])
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    manifest = ckpt.get("manifest", {})
    if manifest.get("stage") != stage or int(ckpt["step"]) < int(config["steps"]):
        return None
    if config_differences(ckpt.get("config", {}), config):
        return None  # the stage function raises CheckpointMismatchError, naming the differences
    return {"checkpoint": str(path), "step": int(ckpt["step"]),
            "history": [float(x) for x in ckpt["history"]], "val": manifest.get("val") or {}}  # fmt: skip


def _main_metric(stage: str, val: Mapping[str, Any]) -> tuple[str, float] | None:
    name = MAIN_METRIC.get(stage)
    value: Any = val
    for key in name.split(".") if name else [None]:
        value = value.get(key) if isinstance(value, Mapping) and key is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return name, float(value)
    return None


def train_all(document: Mapping[str, Any], *, resume: bool = True) -> list[dict[str, Any]]:
    """Train every stage a sectioned config defines, in :data:`STAGE_ORDER`, each with its
    :func:`stage_config` (so a later stage finds the earlier stages' checkpoints).

    With ``resume``, a stage whose checkpoint is finished at its configured steps is skipped (its file is
    not touched) and an unfinished one continues. Stops at the first failing stage: a project error comes
    back as :class:`StageFailedError` naming the stage; earlier stages' checkpoints stay.

    Returns one dict per stage run or skipped, in order: ``stage``, ``checkpoint``, ``step``, ``steps``,
    ``seconds`` (wall time), ``skipped`` (True: already finished), ``val``, ``metric`` (``(name, value)`` of
    :data:`MAIN_METRIC`, or None) and ``history``.
    """
    from neuronarrator.train.config import CHECKPOINT_LINKS, STAGE_ORDER, stage_config
    from neuronarrator.train.loop import TrainConfigError

    sections = document.get("stages")
    if sections is None:
        raise TrainConfigError(
            "'train all' needs a sectioned config (shared keys, then a 'stages:' mapping of one section per "
            "stage, as configs/clef-tiny.yaml); this config is flat: train it with 'train STAGE'"
        )
    if not isinstance(sections, Mapping) or not sections:
        raise TrainConfigError("'stages' must map stage names to mappings of keys")
    unknown = [name for name in sections if name not in STAGE_ORDER]
    if unknown:
        raise TrainConfigError(
            f"the config's stages section has unknown stages {', '.join(map(repr, unknown))}; "
            f"stages: {', '.join(STAGE_ORDER)}"
        )
    configs = {}
    for stage in STAGE_ORDER:  # every section checked before any training starts
        if stage in sections:
            configs[stage] = stage_config(document, stage)
            for key in ("checkpoint", "steps"):
                if key not in configs[stage]:
                    raise TrainConfigError(f"the {stage} config lacks {key}")
        else:
            log.info("train all: no %s section in the config; skipped", stage)
    results: list[dict[str, Any]] = []
    trained: set[str] = set()
    for stage, config in configs.items():
        start = time.perf_counter()
        result = finished_result(config, stage) if resume else None
        skipped = result is not None
        if skipped:
            log.info("train all: %s is finished at step %d (%s); skipped", stage, result["step"], config["checkpoint"])
            stale = [earlier for key, earlier in CHECKPOINT_LINKS.items() if earlier in trained and key in config]
            if stale:
                log.warning("train all: %s was skipped as finished, but %s (which it builds on) was trained "
                            "in this run; rerun %s with --no-resume to retrain it on the new checkpoint",
                            stage, ", ".join(stale), stage)  # fmt: skip
        else:
            log.info("train all: training %s to step %s", stage, config["steps"])
            try:
                result = STAGES[stage](config, resume=resume)
            except NeuroNarratorError as error:
                raise StageFailedError(stage, error) from error
            except Exception:
                log.error("train all: the %s stage failed; earlier stages' checkpoints are kept", stage)
                raise
            trained.add(stage)
        results.append({
            "stage": stage, "checkpoint": result["checkpoint"], "step": result["step"], "steps": int(config["steps"]),
            "seconds": time.perf_counter() - start, "skipped": skipped, "val": result["val"],
            "metric": _main_metric(stage, result["val"]), "history": result["history"],
        })  # fmt: skip
    return results
