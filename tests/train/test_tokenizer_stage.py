"""The tokenizer stage end to end through the CLI: a phantom corpus, a few steps, resume, config mismatch."""

from __future__ import annotations

import pytest
import torch
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import load_checkpoint


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from neuronarrator.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus([("phantom", None, {"sessions": 8, "duration_s": 60})], out, scheduler="synchronous",
                 split_fractions=(0.5, 0.5, 0.0), cache_topomaps=False)  # fmt: skip
    return out


def _config(tmp_path, corpus, **changes):
    config = {"corpus": str(corpus), "tokenizer": "tiny", "tokenizer_overrides": {"session_s": 60.0},
              "steps": 12, "batch_size": 16, "lr": 3e-3, "checkpoint": str(tmp_path / "tok.pt"), "seed": 0,
              "log_every": 4, **changes}  # fmt: skip
    path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_train_resume_and_mismatch(tmp_path, corpus, capsys):
    assert main(["train", "tokenizer", "--config", _config(tmp_path, corpus)]) == 0
    ckpt = load_checkpoint(tmp_path / "tok.pt")
    assert ckpt["step"] == 12 and ckpt["config"]["steps"] == 12 and ckpt["config"]["corpus"] == str(corpus)
    history = ckpt["history"]
    assert history[-3:].mean() < history[:3].mean()
    val = ckpt["manifest"]["val"]
    assert val["n_tiles"] > 0 and val["l1"] > 0 and 0 < val["codebook_usage"] <= 1 and val["perplexity"] >= 1
    assert ckpt["manifest"]["neuronarrator"]

    # a longer run of the same config continues from step 12, keeping the first 12 losses
    assert main(["train", "tokenizer", "--config", _config(tmp_path, corpus, steps=16)]) == 0
    resumed = load_checkpoint(tmp_path / "tok.pt")
    assert resumed["step"] == 16
    assert torch.equal(resumed["history"][:12], history)

    capsys.readouterr()
    assert main(["train", "tokenizer", "--config", _config(tmp_path, corpus, steps=16, lr=1e-2)]) == 3
    err = capsys.readouterr().err
    assert "another config" in err and "lr" in err and len(err.strip().splitlines()) == 1

    # --no-resume starts over
    assert main(["train", "tokenizer", "--config", _config(tmp_path, corpus, steps=2, lr=1e-2), "--no-resume"]) == 0
    assert load_checkpoint(tmp_path / "tok.pt")["step"] == 2


def test_usage_errors(tmp_path, capsys):
    cfg = _config(tmp_path, tmp_path / "nowhere")
    assert main(["train", "decoder", "--config", cfg]) == 2
    assert "tokenizer" in capsys.readouterr().err
    assert main(["train", "tokenizer", "--config", cfg]) == 4
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err and len(err.splitlines()) == 1
