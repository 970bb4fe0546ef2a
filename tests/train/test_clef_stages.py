"""CLEF's stages end to end through the CLI on a small phantom corpus: tokenizer → session → align from
one sectioned config, resume and config errors of the session stage, then ``evaluate --suite clef``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import load_checkpoint

SHARED_EEGMMI = (Path(__file__).resolve().parents[2] / "../shared/data/eegmmidb").resolve()


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def clef(tmp_path_factory, one_torch_thread):
    """Both corpora, the sectioned config and the three trained checkpoints.

    14 sessions split (0.4, 0.4, 0.2) by patient hash: 9 train, 2 val (2 patients), 3 test. Torch runs on
    one thread here: on a busy 2-core machine two intra-op threads make these tiny models (and MiniLM)
    ten times slower."""
    from neuronarrator.corpus.build import build_corpus

    root = tmp_path_factory.mktemp("clef")
    corpus, shifted = root / "corpus", root / "shifted"
    build_corpus([("phantom", None, {"sessions": 14, "duration_s": 30})], corpus, scheduler="synchronous",
                 split_fractions=(0.4, 0.4, 0.2), cache_topomaps=False)  # fmt: skip
    build_corpus([("phantom", None, {"sessions": 8, "duration_s": 30, "shift": 1})], shifted,
                 scheduler="synchronous", cache_topomaps=False)  # fmt: skip
    ck = root / "ck"
    evaluate = {"shifted_corpus": str(shifted), "peers": ["biot_style"], "peer_steps": 3, "peer_batch_size": 8,
                "n_boot": 50}  # fmt: skip
    if SHARED_EEGMMI.is_dir():
        evaluate["eegmmi"] = str(SHARED_EEGMMI)
    document = {
        "corpus": str(corpus),
        "seed": 0,
        "stages": {
            "tokenizer": {"tokenizer": "tiny", "tokenizer_overrides": {"session_s": 60.0}, "steps": 6,
                          "batch_size": 8, "lr": 3e-3, "checkpoint": str(ck / "tok.pt"), "log_every": 3},
            "session": {"session": "tiny", "steps": 6, "batch_size": 4, "lr": 3e-3,
                        "checkpoint": str(ck / "session.pt"), "log_every": 3},
            "align": {"steps": 6, "batch_size": 4, "lr": 1e-3, "align": {"d_align": 32, "ehr_hidden": 32},
                      "checkpoint": str(ck / "align.pt"), "log_every": 3},
        },
        "evaluate": evaluate,
    }  # fmt: skip
    config = _write(root / "clef.yaml", document)
    for stage in ("tokenizer", "session", "align"):
        assert main(["train", stage, "--config", config]) == 0, stage
    return {"root": root, "corpus": corpus, "config": config, "document": document, "ck": ck}


def test_stages_write_checkpoints_and_val_metrics(clef):
    ck = clef["ck"]
    tok, ses, align = (load_checkpoint(ck / name) for name in ("tok.pt", "session.pt", "align.pt"))
    assert tok["step"] == ses["step"] == align["step"] == 6
    # the sectioned config gave each stage its earlier stage's checkpoint, and nothing of the benchmark
    assert ses["config"]["tokenizer_checkpoint"] == str(ck / "tok.pt")
    assert align["config"]["session_checkpoint"] == str(ck / "session.pt")
    assert "evaluate" not in ses["config"] and "session_checkpoint" not in tok["config"]

    val = ses["manifest"]["val"]
    assert ses["manifest"]["stage"] == "session" and ses["manifest"]["train_sessions"] > 0
    assert val["n_sessions"] > 0
    assert val["loss"] > 0 and 0 <= val["accuracy"] <= 1 and 0 < val["unigram_accuracy"] <= 1
    assert ses["manifest"]["session_config"]["vocab_size"] == 64  # tied to the tiny tokenizer

    manifest = align["manifest"]
    assert manifest["stage"] == "align" and manifest["align_config"]["d_align"] == 32
    assert manifest["text_model"] and manifest["ehr_vocab"]
    val = manifest["val"]
    assert val["n_sessions"] == 2
    if val["n_sessions"] >= 2:
        assert {"text_loss", "text_top1", "text_top1_chance", "ehr_loss"} <= set(val)
        assert 0 <= val["text_top1"] <= 1 and 0 < val["text_top1_chance"] <= 1
        assert val["text_loss"] > 0 and val["ehr_loss"] > 0


def test_load_clef_embeds_sessions(clef):
    from neuronarrator.eval.clef_embed import ClefEmbedder
    from neuronarrator.eval.signals import corpus_sessions

    embedder = ClefEmbedder(clef["ck"] / "align.pt", device="cpu")
    sessions, _ = corpus_sessions(clef["corpus"], "test")
    emb, text = embedder.embed(sessions[:2])
    assert emb.shape == (2, 32) and text.shape == (2, 32)  # d_model of the tiny preset; d_align 32
    assert torch.isfinite(torch.from_numpy(emb)).all()
    assert torch.allclose(torch.from_numpy(text).norm(dim=1), torch.ones(2), atol=1e-4)
    prompts = embedder.embed_prompts({"a": ["normal EEG", "abnormal EEG"], "normal": ["normal EEG"]})
    assert prompts["a"].shape == (2, 32) and prompts["normal"].shape == (1, 32)


def test_session_resume_mismatch_and_no_resume(clef, tmp_path, capsys):
    # a flat session config of its own, beside the module's checkpoints
    base = {"corpus": str(clef["corpus"]), "tokenizer_checkpoint": str(clef["ck"] / "tok.pt"), "session": "tiny",
            "steps": 4, "batch_size": 4, "lr": 1e-2, "checkpoint": str(tmp_path / "s.pt"), "seed": 1, "log_every": 2, "max_sessions": 4}  # fmt: skip
    assert main(["train", "session", "--config", _write(tmp_path / "a.yaml", base)]) == 0
    first = load_checkpoint(tmp_path / "s.pt")
    assert first["step"] == 4 and len(first["history"]) == 4

    # more steps of the same config continue from step 4, keeping its losses; the loss goes down
    assert main(["train", "session", "--config", _write(tmp_path / "b.yaml", {**base, "steps": 24})]) == 0
    resumed = load_checkpoint(tmp_path / "s.pt")
    assert resumed["step"] == 24
    assert torch.equal(resumed["history"][:4], first["history"])
    assert resumed["history"][-4:].mean() < resumed["history"][:4].mean()

    capsys.readouterr()
    changed = _write(tmp_path / "c.yaml", {**base, "steps": 24, "mask_ratio": 0.3})
    assert main(["train", "session", "--config", changed]) == 3
    err = capsys.readouterr().err
    assert "another config" in err and "mask_ratio" in err and len(err.strip().splitlines()) == 1
    assert load_checkpoint(tmp_path / "s.pt")["step"] == 24  # untouched

    assert main(["train", "session", "--config", _write(tmp_path / "d.yaml", {**base, "steps": 2}),
                 "--no-resume"]) == 0  # fmt: skip
    assert load_checkpoint(tmp_path / "s.pt")["step"] == 2


def test_missing_earlier_checkpoints(clef, tmp_path, capsys):
    session = {"corpus": str(clef["corpus"]), "tokenizer_checkpoint": str(tmp_path / "no-tok.pt"), "session": "tiny",
               "steps": 2, "batch_size": 4, "lr": 1e-3, "checkpoint": str(tmp_path / "s.pt"), "seed": 0}  # fmt: skip
    capsys.readouterr()
    assert main(["train", "session", "--config", _write(tmp_path / "s.yaml", session)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path / "no-tok.pt") in err and "tokenizer" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s.pt").exists()

    align = {"corpus": str(clef["corpus"]), "session_checkpoint": str(tmp_path / "no-session.pt"), "steps": 2,
             "batch_size": 4, "lr": 1e-3, "checkpoint": str(tmp_path / "a.pt"), "seed": 0}  # fmt: skip
    assert main(["train", "align", "--config", _write(tmp_path / "a.yaml", align)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path / "no-session.pt") in err and len(err.splitlines()) == 1

    # a sectioned config without the stage's section names the sections it has
    document = {k: v for k, v in clef["document"].items() if k != "stages"}
    document["stages"] = {"tokenizer": clef["document"]["stages"]["tokenizer"]}
    assert main(["train", "session", "--config", _write(tmp_path / "t.yaml", document)]) == 2
    assert "no section for stage 'session'" in capsys.readouterr().err


def test_evaluate_clef_suite(clef, tmp_path, capsys):
    out = tmp_path / "b.md"
    assert main(["evaluate", "--suite", "clef", "--config", clef["config"], "--out", str(out)]) == 0
    results = json.loads(out.with_suffix(".json").read_text())
    markdown = out.read_text()
    assert markdown.startswith("# CLEF benchmark")

    expected_sets = {"heldout", "shifted"} | ({"eegmmi"} if SHARED_EEGMMI.is_dir() else set())
    assert set(results["sets"]) == expected_sets
    assert isinstance(results["not_run"], dict) and isinstance(results["notes"], list)
    assert results["peers"]["biot_style"]["steps"] == 3
    for name in ("heldout", "shifted"):
        block = results["sets"][name]
        assert set(block["methods"]) == {"clef", "clef_pretrained", "bandpower", "biot_style"}
        assert block["n_sessions"] > 0 and set(block["zero_shot"]) == {"summary", "plain"}
        assert set(block["vs_clef"]) <= {"clef_pretrained", "bandpower", "biot_style"}
    assert results["sets"]["shifted"]["n_sessions"] == 8
    if "eegmmi" in results["sets"]:
        block = results["sets"]["eegmmi"]
        assert block["n_sessions"] == 12 and set(block["methods"]) == {
            "clef",
            "clef_pretrained",
            "bandpower",
            "biot_style",
        }
        assert "EEGMMI" in markdown

    tokenizer = results["tokenizer"]
    assert tokenizer["tokens_per_20_min_paper"] == 2048
    assert tokenizer["tokens_per_20_min"] == 16 * 20 * 32  # 20 one-minute tiles of 4 × 8 codes
    assert tokenizer["codebook_size"] == 64 and tokenizer["n_tiles"] > 0
    assert "2048 with the paper config" in markdown
    assert "Distribution-shifted phantom" in markdown and "| biot_style |" in markdown

    # existing outputs are never overwritten without --force
    before = out.read_text()
    capsys.readouterr()
    assert main(["evaluate", "--suite", "clef", "--config", clef["config"], "--out", str(out)]) == 3
    assert str(out) in capsys.readouterr().err
    assert out.read_text() == before


def test_evaluate_usage_errors(clef, tmp_path, capsys):
    assert (
        main(["evaluate", "--suite", "clef", "--config", clef["config"], "--out", str(tmp_path / "x.txt")])
        == 2
    )
    assert ".md" in capsys.readouterr().err
    assert (
        main(["evaluate", "--suite", "tuh", "--config", clef["config"], "--out", str(tmp_path / "x.md")]) == 2
    )
    no_section = _write(tmp_path / "n.yaml", {k: v for k, v in clef["document"].items() if k != "evaluate"})
    capsys.readouterr()
    assert main(["evaluate", "--config", no_section, "--out", str(tmp_path / "x.md")]) == 2
    assert "no 'evaluate' section" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))
