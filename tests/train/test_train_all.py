"""``train all``: every stage of a sectioned config in order (tokenizer → session here, a few steps on a small
phantom corpus), checkpoints linked, finished stages skipped untouched on a rerun, errors naming the stage.

The tests share one run and go in file order: the last one trains the tokenizer further."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import TrainConfigError, load_checkpoint
from neuronarrator.train.stages import StageFailedError, train_all

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_torch_thread):
    """8 phantom sessions of 30 s split half train, half val; tokenizer and session trained 4 steps each
    by :func:`train_all` (the other stages are absent from the config)."""
    from neuronarrator.corpus.build import build_corpus

    root = tmp_path_factory.mktemp("train-all")
    corpus = root / "corpus"
    build_corpus([("phantom", None, {"sessions": 8, "duration_s": 30})], corpus, scheduler="synchronous",
                 split_fractions=(0.5, 0.5, 0.0), cache_topomaps=False)  # fmt: skip
    ck = root / "ck"
    document = {
        "corpus": str(corpus),
        "seed": 0,
        "stages": {  # in reverse order on purpose: train all goes by STAGE_ORDER, not the file's order
            "session": {"session": "tiny", "steps": 4, "batch_size": 2, "lr": 3e-3,
                        "checkpoint": str(ck / "session.pt"), "log_every": 2},
            "tokenizer": {"tokenizer": "tiny", "tokenizer_overrides": {"session_s": 60.0}, "steps": 4,
                          "batch_size": 8, "lr": 3e-3, "checkpoint": str(ck / "tok.pt"), "log_every": 2},
        },
        "evaluate": {"n_boot": 10},
    }  # fmt: skip
    results = train_all(document)
    return {"root": root, "ck": ck, "document": document, "results": results,
            "config": _write(root / "all.yaml", document)}  # fmt: skip


def _mtimes(ck: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(ck.glob("*.pt"))}


def test_trains_defined_stages_in_order_and_links_checkpoints(run):
    results, ck = run["results"], run["ck"]
    assert [r["stage"] for r in results] == ["tokenizer", "session"]
    assert not any(r["skipped"] for r in results)
    assert [r["checkpoint"] for r in results] == [str(ck / "tok.pt"), str(ck / "session.pt")]
    for r in results:
        assert r["step"] == r["steps"] == 4 and len(r["history"]) == 4 and r["seconds"] > 0
    assert results[0]["metric"][0] == "l1" and results[0]["metric"][1] > 0
    assert results[1]["metric"][0] == "loss" and results[1]["metric"][1] > 0

    tok, ses = load_checkpoint(ck / "tok.pt"), load_checkpoint(ck / "session.pt")
    assert tok["manifest"]["stage"] == "tokenizer" and ses["manifest"]["stage"] == "session"
    assert ses["config"]["tokenizer_checkpoint"] == str(ck / "tok.pt")  # linked from the tokenizer section
    assert "evaluate" not in ses["config"] and "stages" not in tok["config"]


def test_rerun_skips_finished_stages_without_rewriting(run):
    before = _mtimes(run["ck"])
    results = train_all(run["document"])
    assert [(r["stage"], r["skipped"], r["step"]) for r in results] == [("tokenizer", True, 4), ("session", True, 4)]
    assert _mtimes(run["ck"]) == before
    # the summary comes from the checkpoints: the same val metric, the same losses
    for again, first in zip(results, run["results"], strict=True):
        assert again["metric"] == pytest.approx(first["metric"]) and again["history"] == pytest.approx(first["history"])


def test_cli_prints_summary_and_skips(run, capsys):
    before = _mtimes(run["ck"])
    assert main(["train", "all", "--config", run["config"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["tokenizer", "session"]
    assert all("step 4/4" in line and "skipped" in line for line in out)
    assert "val l1 " in out[0] and "val loss " in out[1] and out[1].endswith(str(run["ck"] / "session.pt"))
    assert _mtimes(run["ck"]) == before


def test_flat_config_is_one_clear_error(run, tmp_path, capsys):
    flat = {k: v for k, v in run["document"].items() if k != "stages"} | run["document"]["stages"]["tokenizer"]
    assert main(["train", "all", "--config", _write(tmp_path / "flat.yaml", flat)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sectioned" in err and "train STAGE" in err
    with pytest.raises(TrainConfigError, match="sectioned"):
        train_all(flat)


def test_unknown_section_is_an_error_before_training(run, tmp_path, capsys):
    document = {**run["document"], "stages": {**run["document"]["stages"], "tokeniser": {"steps": 1}}}
    assert main(["train", "all", "--config", _write(tmp_path / "typo.yaml", document)]) == 2
    assert "'tokeniser'" in capsys.readouterr().err


def test_failing_stage_is_named_and_keeps_earlier_checkpoints(run, tmp_path, capsys):
    before = _mtimes(run["ck"])
    align = {"steps": 2, "batch_size": 2, "checkpoint": str(tmp_path / "align.pt")}  # no lr
    document = {**run["document"], "stages": {**run["document"]["stages"], "align": align}}
    with pytest.raises(StageFailedError, match="align stage") as caught:
        train_all(document)
    assert caught.value.stage == "align" and caught.value.exit_code == 2  # the TrainConfigError's code
    assert main(["train", "all", "--config", _write(tmp_path / "fail.yaml", document)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "align stage" in err and "lr" in err
    assert _mtimes(run["ck"]) == before and not (tmp_path / "align.pt").exists()


def test_more_steps_resume_and_stale_later_stage_warns(run, caplog):
    """Runs last: the tokenizer continues to 5 steps; the finished session stage is skipped with a warning
    that it was trained on the tokenizer's earlier checkpoint."""
    stages = run["document"]["stages"]
    document = {**run["document"], "stages": {**stages, "tokenizer": {**stages["tokenizer"], "steps": 5}}}
    session_mtime = _mtimes(run["ck"])["session.pt"]
    with caplog.at_level(logging.WARNING, logger="neuronarrator.train.stages"):
        results = train_all(document)
    assert [(r["stage"], r["skipped"], r["step"]) for r in results] == [("tokenizer", False, 5), ("session", True, 4)]
    assert results[0]["history"][:4] == pytest.approx(run["results"][0]["history"])
    assert _mtimes(run["ck"])["session.pt"] == session_mtime
    assert any("session was skipped" in r.message and "tokenizer" in r.message for r in caplog.records)


def test_main_metric_reads_nested_val() -> None:
    from neuronarrator.train.stages import _main_metric

    assert _main_metric("stage1", {"presence": {"macro_auroc": 0.93}}) == ("presence.macro_auroc", 0.93)
    assert _main_metric("stage1", {"presence": None}) is None
    assert _main_metric("tokenizer", {"l1": 0.2}) == ("l1", 0.2)
    assert _main_metric("narrator", {"loss": None}) is None
