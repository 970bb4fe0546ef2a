"""The model the package ships, and where ``--model`` finds another.

A *model directory* holds the two finished checkpoints of NeuroNarrator -- ``stage1.pt`` (encoders,
finding heads, calibration) and ``narrator.pt`` (bridge, language model, tokenizer) -- and a
``MODEL.json`` that says how they were made (command, config, corpus, seeds, their sha256, the metrics
of the run). The package ships one under ``neuronarrator/data/model`` (:data:`BUNDLED_DIR`), exported by
:func:`export_model` from the checkpoints that ``neuronarrator train all --config
configs/narrator-tiny.yaml`` writes: the export keeps only what inference needs (weights, config,
manifest), not the optimizer state and RNG of a resumable training checkpoint.

Nothing is downloaded: a model is either the bundled one or a directory the user names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.errors import InputError

__all__ = ["BUNDLED_DIR", "CHECKPOINTS", "ModelNotFoundError", "ModelPaths", "export_model", "model_card", "resolve_model"]

#: The shipped model directory (inside the installed package).
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "model"
#: Stage name → checkpoint file name inside a model directory.
CHECKPOINTS = {"stage1": "stage1.pt", "narrator": "narrator.pt"}
#: Checkpoint keys inference reads (``load_stage1`` / ``load_narrator``); the rest is training state.
_INFERENCE_KEYS = ("model", "config", "manifest")


class ModelNotFoundError(InputError):
    """``--model`` names no usable model directory (or the bundled one is missing from the install)."""


@dataclass(frozen=True)
class ModelPaths:
    """The checkpoints of one model directory, and what its ``MODEL.json`` says (empty if it has none)."""

    directory: Path
    stage1: Path
    narrator: Path
    card: dict[str, Any]
    bundled: bool

    @property
    def name(self) -> str:
        return str(self.card.get("name") or ("neuronarrator-default" if self.bundled else self.directory.name))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_model(model: str | Path | None = None) -> ModelPaths:
    """The model directory ``model`` (None: the bundled one), checked to hold both checkpoints.

    Raises
    ------
    ModelNotFoundError
        Naming the directory and what is missing from it.
    """
    bundled = model is None
    directory = BUNDLED_DIR if bundled else Path(model)
    if not directory.is_dir():
        problem = ("the bundled model is missing from this install (reinstall the package, or train one with "
                   "'neuronarrator train all' and pass --model)") if bundled else "not a model directory"  # fmt: skip
        raise ModelNotFoundError(directory, problem)
    paths = {stage: directory / name for stage, name in CHECKPOINTS.items()}
    missing = [name for stage, name in CHECKPOINTS.items() if not paths[stage].is_file()]
    if missing:
        raise ModelNotFoundError(directory, f"no {' or '.join(missing)} in this model directory "
                                            f"(expected {', '.join(CHECKPOINTS.values())})")  # fmt: skip
    card: dict[str, Any] = {}
    card_path = directory / "MODEL.json"
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ModelNotFoundError(card_path, f"unreadable model card: {error}") from None
    return ModelPaths(directory, paths["stage1"], paths["narrator"], card, bundled)


def export_model(stage1_ckpt: str | Path, narrator_ckpt: str | Path, out_dir: str | Path, *,
                 card: dict[str, Any] | None = None, force: bool = False) -> dict[str, Any]:  # fmt: skip
    """Write a model directory from two finished training checkpoints, inference keys only, each file
    atomically; ``MODEL.json`` (``card`` plus the files' sha256 and sizes) last. Returns the card."""
    import torch

    from neuronarrator.train.loop import stage_checkpoint
    from neuronarrator.train.narrator_stage import tokenizer_folder

    out_dir = Path(out_dir)
    files: dict[str, Any] = {}
    for stage, source in (("stage1", stage1_ckpt), ("narrator", narrator_ckpt)):
        ckpt = stage_checkpoint(source, stage)
        slim = {k: ckpt[k] for k in _INFERENCE_KEYS if k in ckpt}
        target = out_dir / CHECKPOINTS[stage]
        if stage == "narrator":  # its tokenizer and stage-1 encoder are found beside it (load_narrator)
            slim["config"] = {**slim["config"], "stage1_checkpoint": CHECKPOINTS["stage1"]}
            slim["manifest"] = {**slim["manifest"], "tokenizer": tokenizer_folder(target).name}
            _copy_folder(tokenizer_folder(source), tokenizer_folder(target), force=force)
        with atomic_output(target, force=force) as tmp:
            torch.save(slim, tmp)
        files[CHECKPOINTS[stage]] = {"sha256": sha256_file(target), "bytes": target.stat().st_size,
                                     "source": str(source), "source_sha256": sha256_file(source)}  # fmt: skip
    document = {**(card or {}), "files": files}
    with atomic_output(out_dir / "MODEL.json", force=force) as tmp:
        tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return document


def _copy_folder(source: Path, target: Path, *, force: bool) -> None:
    """Copy a folder to a temporary sibling of ``target``, then rename it into place."""
    import shutil
    import tempfile

    from neuronarrator.io.errors import OutputExistsError

    if not source.is_dir():
        raise ModelNotFoundError(source, "the narrator checkpoint's tokenizer folder is missing")
    if target.exists() and not force:
        raise OutputExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(source, tmp / "t")
        if target.exists():
            shutil.rmtree(target)
        (tmp / "t").rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_card(config: dict[str, Any], config_path: str | Path) -> dict[str, Any]:
    """What ``MODEL.json`` says of a model trained with ``config`` (a sectioned narrator config): how to
    make it again, from which corpus (its card's sources and code version), and the stage-1 val metrics
    recorded in the checkpoint."""
    import datetime

    from neuronarrator.train.loop import stage_checkpoint

    stages = config.get("stages", {})
    corpus = Path(str(config.get("corpus", "")))
    corpus_card: dict[str, Any] = {}
    if (corpus / "card.json").is_file():
        full = json.loads((corpus / "card.json").read_text(encoding="utf-8"))
        corpus_card = {"sources": full.get("parameters", {}).get("sources"),
                       "split_fractions": full.get("parameters", {}).get("split_fractions"),
                       "code": full.get("code")}  # fmt: skip
    specs = [f"'{src['name']}?" + "&".join(f"{k}={v}" for k, v in sorted((src.get("options") or {}).items())) + "'"
             for src in corpus_card.get("sources") or []]  # fmt: skip
    val = stage_checkpoint(stages["stage1"]["checkpoint"], "stage1")["manifest"].get("val", {})
    sessions = (val.get("sessions") or {}).get("calibrated") or {}
    return {
        "name": "neuronarrator-default",
        "trained_by": [f"neuronarrator corpus build {' '.join(specs) or '(see corpus.sources)'} --out {corpus}",
                       f"neuronarrator train all --config {config_path} --no-resume"],  # fmt: skip
        "config": str(config_path),
        "seed": config.get("seed"),
        "corpus": {"path": str(corpus), **corpus_card},
        "stage1_val": {"segment_macro_auroc": (val.get("presence") or {}).get("macro_auroc"),
                       "session_macro_auroc": sessions.get("macro_auroc"),
                       "session_macro_f1": sessions.get("macro_f1"),
                       "state_accuracy": val.get("state_accuracy")},  # fmt: skip
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "intended_use": "research and draft reports for review by a qualified clinician; trained on "
                        "synthetic (phantom) EEG only",
    }
