"""NeuroNarrator's stage 1 through the CLI on a tiny phantom corpus: checkpoint, val metrics, calibration
in the manifest, resume, config mismatch, ``load_stage1``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, build_phantom_corpus):
    """10 phantom sessions of 20 s (2 segments each) split half train, half val; topomaps cached."""
    return build_phantom_corpus(tmp_path_factory, "stage1", 10)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("stage1-run")
    document = {
        "corpus": str(corpus),
        "seed": 0,
        "stages": {"stage1": {"stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}}, "steps": 6,
                              "batch_size": 4, "lr": 3e-3, "checkpoint": str(root / "s1.pt"), "log_every": 3}},
    }  # fmt: skip
    config = _write(root / "narrator.yaml", document)
    assert main(["train", "stage1", "--config", config]) == 0
    return {"root": root, "config": config, "document": document, "ckpt": root / "s1.pt"}


def test_checkpoint_val_metrics_and_calibration(trained):
    ckpt = load_checkpoint(trained["ckpt"])
    manifest = ckpt["manifest"]
    assert ckpt["step"] == 6 and len(ckpt["history"]) == 6 and torch.isfinite(ckpt["history"]).all()
    assert manifest["stage"] == "stage1" and manifest["train_segments"] > 0
    assert manifest["stage1_config"]["waveform"]["n_layers"] == 1

    val = manifest["val"]
    assert {"n_segments", "presence", "side_accuracy", "side_n", "retrieval", "calibration"} <= set(val)
    assert val["n_segments"] > 0
    presence = val["presence"]
    assert {"per_code", "macro_f1", "macro_auroc", "n_codes"} <= set(presence)
    assert presence["n_codes"] == len(presence["per_code"])
    for figures in presence["per_code"].values():
        assert (
            0 <= figures["f1"] <= 1 and 0 <= figures["auroc"] <= 1 and figures["n_pos"] and figures["n_neg"]
        )
    if presence["n_codes"]:
        assert 0 <= presence["macro_f1"] <= 1 and 0 <= presence["macro_auroc"] <= 1
    assert val["side_accuracy"] is None or 0 <= val["side_accuracy"] <= 1
    retrieval = val["retrieval"]
    assert retrieval["n"] > 0 and 0 <= retrieval["top1"] <= 1 and 0 < retrieval["chance"] <= 0.5
    calib = val["calibration"]
    assert calib["method"] == "temperature"
    for when in ("before", "after"):
        assert 0 <= calib[when]["ece"] <= 1 and len(calib[when]["bins"]) == 10
        assert calib[when]["n"] == calib["before"]["n"] > 0

    stored = manifest["calibration"]
    from neuronarrator.clinical.findings import CODES

    assert stored["method"] == "temperature" and len(stored["temperature"]) == len(CODES)
    assert stored["codes"] == list(CODES) and sum(stored["fitted"]) == calib["n_fitted"]
    assert all(0.05 <= t <= 20 for t in stored["temperature"])


def test_load_stage1(trained, corpus):
    from neuronarrator.corpus.datasets import SegmentDataset
    from neuronarrator.train.stage1_stage import load_stage1

    model, calibration = load_stage1(trained["ckpt"], "cpu")
    assert not model.training
    stored = load_checkpoint(trained["ckpt"])["manifest"]["calibration"]
    assert calibration.to_dict() == stored
    batch = torch.utils.data.default_collate([SegmentDataset(corpus, "val", fields=("waveform", "topomap", "findings"))[i]
                                              for i in range(2)])  # fmt: skip
    with torch.no_grad():
        logits = model(batch)["presence"]
    probs = calibration.apply(logits)
    assert probs.shape == (2, len(stored["temperature"])) and np.isfinite(probs).all()

    with pytest.raises(Exception, match="stage1"):
        load_stage1(trained["root"] / "missing.pt")


def test_resume_mismatch_and_no_resume(corpus, tmp_path, capsys):
    base = {"corpus": str(corpus), "stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}},
            "steps": 3, "batch_size": 2, "lr": 1e-3, "checkpoint": str(tmp_path / "s.pt"), "seed": 1,
            "log_every": 1}  # fmt: skip
    assert main(["train", "stage1", "--config", _write(tmp_path / "a.yaml", base)]) == 0
    first = load_checkpoint(tmp_path / "s.pt")
    assert first["step"] == 3

    assert main(["train", "stage1", "--config", _write(tmp_path / "b.yaml", {**base, "steps": 5})]) == 0
    resumed = load_checkpoint(tmp_path / "s.pt")
    assert resumed["step"] == 5 and torch.equal(resumed["history"][:3], first["history"])
    assert resumed["manifest"]["stage"] == "stage1"

    capsys.readouterr()
    assert (
        main(["train", "stage1", "--config", _write(tmp_path / "c.yaml", {**base, "steps": 5, "lr": 1e-2})])
        == 3
    )
    err = capsys.readouterr().err
    assert "another config" in err and "lr" in err
    assert load_checkpoint(tmp_path / "s.pt")["step"] == 5  # untouched

    bad = {**base, "checkpoint": str(tmp_path / "x.pt"), "stage1_overrides": {"nonsense": 1}}
    assert main(["train", "stage1", "--config", _write(tmp_path / "d.yaml", bad)]) == 2
    assert "nonsense" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_resumed_batches_continue_the_order(corpus):
    """A run resumed at step s sees the batches of an uninterrupted run from step s on."""
    from neuronarrator.corpus.datasets import SegmentDataset
    from neuronarrator.train.stage1_stage import segment_batches

    dataset = SegmentDataset(corpus, "train", fields=("findings",))
    batches = segment_batches(dataset, 3, seed=5)
    per_epoch = len(dataset) // 3
    steps = per_epoch + 2  # crosses an epoch boundary
    full = [b["index"].tolist() for _, b in zip(range(steps), batches(0), strict=False)]
    for start in (1, per_epoch, per_epoch + 1):
        again = [b["index"].tolist() for _, b in zip(range(steps - start), batches(start), strict=False)]
        assert again == full[start:]
    first_epoch = sum(full[:per_epoch], [])
    assert len(first_epoch) == len(set(first_epoch))  # no repeats within an epoch
