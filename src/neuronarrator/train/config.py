"""Training configs: required keys, and one YAML file holding every CLEF stage.

A config file is either flat (one stage's keys, as ``configs/tiny.yaml``) or sectioned: shared keys at
the top (``corpus``, ``seed``) and one mapping per stage under ``stages:`` (``configs/clef-tiny.yaml``).
:func:`stage_config` gives a stage the shared keys overlaid by its own section, and lets a later stage
find an earlier stage's checkpoint (``tokenizer_checkpoint``, ``session_checkpoint``) without repeating
paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from neuronarrator.train.loop import TrainConfigError

#: Where a later stage finds an earlier stage's checkpoint in a sectioned config.
CHECKPOINT_LINKS = {"tokenizer_checkpoint": "tokenizer", "session_checkpoint": "session",
                    "stage1_checkpoint": "stage1"}  # fmt: skip
#: The stages in training order: a stage is linked to the checkpoints of the stages before it only.
STAGE_ORDER = ("tokenizer", "session", "align", "stage1", "narrator")
#: Top-level sections that are not shared training keys (the benchmark's ``evaluate``): kept out of a
#: stage's config, which its checkpoint stores and a resumed run must match.
NOT_SHARED = ("stages", "evaluate")


def check_config(config: Mapping[str, Any], required: Sequence[str], stage: str) -> None:
    missing = [key for key in required if key not in config]
    if missing:
        raise TrainConfigError(f"the {stage} config lacks {', '.join(missing)}")


def stage_config(document: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The flat config of one stage from a flat or sectioned config document."""
    sections = document.get("stages")
    if sections is None:
        return dict(document)
    if not isinstance(sections, Mapping) or not all(isinstance(v, Mapping) for v in sections.values()):
        raise TrainConfigError("'stages' must map stage names to mappings of keys")
    if stage not in sections:
        raise TrainConfigError(
            f"the config has no section for stage {stage!r} (it has {', '.join(sections)})"
        )
    shared = {k: v for k, v in document.items() if k not in NOT_SHARED}
    config = {**shared, **sections[stage]}
    before = STAGE_ORDER[: STAGE_ORDER.index(stage)] if stage in STAGE_ORDER else ()
    for key, earlier in CHECKPOINT_LINKS.items():
        if key not in config and earlier in before and "checkpoint" in sections.get(earlier, {}):
            config[key] = sections[earlier]["checkpoint"]
    return config
