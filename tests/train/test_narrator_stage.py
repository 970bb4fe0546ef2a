"""The narrator stage (bridge + LM on the session narratives) through the CLI on a small phantom corpus,
without stage 1: checkpoint, tokenizer, val metrics, narration, resume, config mismatch, and an
overfitting check that the EEG conditioning reaches the language model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, one_torch_thread):
    """10 phantom sessions of 30 s (three segments each), split half train, half val by patient hash."""
    from neuronarrator.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("narrator") / "corpus"
    build_corpus([("phantom", None, {"sessions": 10, "duration_s": 30})], out, scheduler="synchronous",
                 split_fractions=(0.5, 0.5, 0.0))  # fmt: skip
    return out


def _config(corpus: Path, root: Path, **changes) -> dict:
    return {"corpus": str(corpus), "seed": 0, "steps": 10, "batch_size": 4, "lr": 3e-3, "lm": "tiny",
            "bridge": "tiny", "tokenizer_vocab": 300, "max_text_tokens": 48, "checkpoint": str(root / "n.pt"),
            "log_every": 5, **changes}  # fmt: skip


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("narrator-run")
    document = _config(corpus, root)
    config = _write(root / "narrator.yaml", document)
    assert main(["train", "narrator", "--config", config]) == 0
    return {"root": root, "document": document, "config": config}


def test_stage_writes_checkpoint_tokenizer_and_val(trained):
    from neuronarrator.train.narrator_stage import tokenizer_folder

    ckpt = load_checkpoint(trained["document"]["checkpoint"])
    manifest = ckpt["manifest"]
    assert manifest["stage"] == "narrator" and ckpt["step"] == 10
    assert (tokenizer_folder(trained["document"]["checkpoint"]) / "tokenizer.json").is_file()
    assert manifest["d_seg"] == 0 and len(manifest["feature_mean"]) == 95
    val = manifest["val"]
    assert val["n_sessions"] >= 1
    assert np.isfinite(val["loss"]) and val["loss"] < val["uniform_loss"]
    history = ckpt["history"].tolist()
    assert history[-1] < history[0]
    assert val["examples"] and all(isinstance(e["generated"], str) for e in val["examples"])


def test_narrate_returns_text(trained, corpus):
    from neuronarrator.eval.signals import corpus_sessions
    from neuronarrator.train.narrator_stage import load_narrator, narrate, session_features

    bundle = load_narrator(trained["document"]["checkpoint"])
    sessions, _ = corpus_sessions(corpus, "val", 1)
    text = narrate(bundle, sessions[0])
    assert isinstance(text, str) and text.strip()
    assert narrate(bundle, session_features(sessions[0])) == text  # features in: the same narration


def test_resume_keeps_history_prefix_and_mismatch_exits_3(trained):
    first = load_checkpoint(trained["document"]["checkpoint"])["history"].tolist()
    config = _write(trained["root"] / "longer.yaml", {**trained["document"], "steps": 14})
    assert main(["train", "narrator", "--config", config]) == 0
    resumed = load_checkpoint(trained["document"]["checkpoint"])
    assert resumed["step"] == 14 and resumed["history"].tolist()[:10] == first
    changed = _write(trained["root"] / "changed.yaml", {**trained["document"], "lr": 1e-3})
    assert main(["train", "narrator", "--config", changed]) == 3


def test_unknown_override_is_a_config_error(corpus, tmp_path):
    config = _write(tmp_path / "bad.yaml", _config(corpus, tmp_path, bridge_overrides={"d_lm": 64}))
    assert main(["train", "narrator", "--config", config]) == 2


def test_overfits_two_sessions_by_their_eeg(corpus, tmp_path):
    """Two train sessions whose narratives share their first line: each greedy narration must reproduce
    its own (cut) narrative, so the prefix from the EEG tells the LM which one to write."""
    from neuronarrator.eval.signals import corpus_sessions
    from neuronarrator.train.narrator_stage import load_narrator, narrate

    document = _config(corpus, tmp_path, steps=120, batch_size=2, max_sessions=2, n_examples=0, log_every=40)
    assert main(["train", "narrator", "--config", _write(tmp_path / "fit.yaml", document)]) == 0
    bundle = load_narrator(document["checkpoint"])
    lm = bundle.model.lm
    sessions, table = corpus_sessions(corpus, "train", 2)
    narratives = table.column("narrative").to_pylist()
    generated = [narrate(bundle, s) for s in sessions]
    assert generated[0] != generated[1]
    for text, reference in zip(generated, narratives, strict=True):
        want = lm.tokenizer(reference, add_special_tokens=False)["input_ids"][
            : document["max_text_tokens"] - 2
        ]
        got = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        same = sum(a == b for a, b in zip(got, want, strict=False))
        assert same >= 0.8 * len(want), (text, reference)


def test_stage1_encoder_embeds_segments_beside_band_powers(corpus, tmp_path, monkeypatch):
    """With a stage1_checkpoint the frozen waveform encoder's segment embeddings join the band powers
    (load_stage1 returns an untrained tiny Stage1Model: the stage-1 stage is tested on its own)."""
    import torch

    from neuronarrator.models.stage1 import Stage1Config, Stage1Model
    from neuronarrator.train import stage1_stage
    from neuronarrator.train.narrator_stage import load_narrator, narrate, train_narrator

    torch.manual_seed(0)
    stage1 = Stage1Model(Stage1Config.tiny())
    encoder = stage1.waveform_encoder
    monkeypatch.setattr(stage1_stage, "load_stage1", lambda path, device="cpu": (stage1, None))
    document = _config(corpus, tmp_path, steps=2, stage1_checkpoint=str(tmp_path / "stage1.pt"), n_examples=1)
    result = train_narrator(document, resume=False)
    assert np.isfinite(result["val"]["loss"])
    manifest = load_checkpoint(document["checkpoint"])["manifest"]
    assert manifest["d_seg"] == encoder.config.d_model
    assert len(manifest["feature_mean"]) == encoder.config.d_model + 95
    assert all(not p.requires_grad for p in encoder.parameters())
    from neuronarrator.eval.signals import corpus_sessions

    sessions, _ = corpus_sessions(corpus, "val", 1)
    assert isinstance(narrate(load_narrator(document["checkpoint"]), sessions[0]), str)
