"""A training run killed outright (SIGKILL, mid-write as likely as not) leaves either nothing or its last
complete checkpoint, never one a later stage takes for a finished model; the rerun resumes it and cleans
the dead run's temporary files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from neuronarrator.cli import main
from neuronarrator.train.loop import TrainConfigError, load_checkpoint, stage_checkpoint
from neuronarrator.train.stages import finished_result

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, build_phantom_corpus):
    return build_phantom_corpus(tmp_path_factory, "interrupted", 8)


@pytest.mark.slow
def test_sigkill_mid_training_leaves_an_unfinished_checkpoint_that_the_rerun_resumes(corpus, tmp_path: Path) -> None:
    checkpoint = tmp_path / "s1.pt"
    section = {"stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}}, "steps": 100_000,
               "batch_size": 4, "lr": 1e-3, "checkpoint": str(checkpoint), "checkpoint_every": 1, "log_every": 1000}  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"corpus": str(corpus), "seed": 0, "stages": {"stage1": section}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = str(Path(sys.executable).parent / "neuronarrator")
    log = (tmp_path / "train.log").open("w")
    process = subprocess.Popen([cli, "train", "stage1", "--config", str(config)], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert checkpoint.exists(), (tmp_path / "train.log").read_text()
        time.sleep(1.0)  # a checkpoint every step: the kill lands mid-write as often as not
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    # what is on disk is a complete checkpoint (it loads), of an unfinished stage
    ckpt = load_checkpoint(checkpoint)
    assert 1 <= ckpt["step"] < 100_000 and "stage" not in ckpt["manifest"]
    with pytest.raises(TrainConfigError, match="not a finished stage1-stage checkpoint"):
        stage_checkpoint(checkpoint, "stage1")  # what the narrator stage and the pipeline load
    assert finished_result(section, "stage1") is None  # train all does not skip it
    survivors = [p.name for p in tmp_path.iterdir() if p.name.startswith(".s1.pt.")]  # a write cut short, maybe

    # the rerun resumes from it (2 more steps) and the dead run's temporary file goes
    resumed = dict(section, steps=ckpt["step"] + 2)
    config.write_text(yaml.safe_dump({"corpus": str(corpus), "seed": 0, "stages": {"stage1": resumed}}))
    assert main(["train", "stage1", "--config", str(config)]) == 0
    done = stage_checkpoint(checkpoint, "stage1")
    assert done["step"] == ckpt["step"] + 2
    assert done["history"][: ckpt["step"]].tolist() == ckpt["history"].tolist()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".s1.pt.")] == [], survivors
