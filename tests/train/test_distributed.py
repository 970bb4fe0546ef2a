"""Data-parallel training (neuronarrator.distributed, train_loop under torchrun): batch sharding, the
gathered InfoNCE against the single-process one (loss and gradients), and stage 1 under ``torchrun`` with
2 CPU processes against 1 process on the same data, including a resume on a different world size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from neuronarrator import distributed
from neuronarrator.cli import main
from neuronarrator.train.loop import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shard_cuts_every_batch_tensor_and_list_and_keeps_the_rest() -> None:
    batch = {"x": torch.arange(8).reshape(4, 2), "ehr": [{"a": i} for i in range(4)], "tau": torch.tensor(0.5),
             "table": torch.zeros(3, 5), "nested": {"y": torch.arange(4)}}  # fmt: skip
    first = distributed.shard(batch, distributed.World(rank=0, size=2))
    second = distributed.shard(batch, distributed.World(rank=1, size=2))
    assert first["x"].tolist() == [[0, 1], [2, 3]] and second["x"].tolist() == [[4, 5], [6, 7]]
    assert [e["a"] for e in second["ehr"]] == [2, 3] and second["nested"]["y"].tolist() == [2, 3]
    assert second["tau"] is batch["tau"] and second["table"].shape == (3, 5)  # not batch-sized: kept whole
    assert distributed.shard(batch, distributed.World()) is batch
    with pytest.raises(ValueError, match="multiple of 3"):
        distributed.shard(batch, distributed.World(rank=0, size=3))


def _gather_worker(rank: int, size: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    from neuronarrator.models.losses import symmetric_info_nce

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=size)
    try:
        g = torch.Generator().manual_seed(0)
        a_all, b_all = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
        rows = [slice(0, 3), slice(3, 7)][rank]  # unequal shares: the padding path
        a = a_all[rows].clone().requires_grad_(True)
        b = b_all[rows].clone().requires_grad_(True)
        with distributed.sharded_forward():
            assert distributed.gathering()
            loss = symmetric_info_nce(distributed.gather_rows(a), distributed.gather_rows(b))
        loss.backward()
        # DDP would average the ranks' parameter gradients: the rows' gradients are what it would average
        torch.save({"loss": loss.detach(), "grad_a": a.grad, "grad_b": b.grad}, Path(out_dir) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_info_nce_is_the_single_process_loss_and_gradient(tmp_path: Path) -> None:
    from neuronarrator.models.losses import symmetric_info_nce

    torch.multiprocessing.spawn(_gather_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 4, generator=g).requires_grad_(True), torch.randn(7, 4, generator=g).requires_grad_(True)
    loss = symmetric_info_nce(a, b)
    loss.backward()
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    for r in ranks:  # every rank computes the whole batch's loss
        torch.testing.assert_close(r["loss"], loss.detach())
    # each rank's rows got the gradient of all ranks' (identical) losses: 2x the single-process one, which
    # DDP's averaging over 2 ranks divides back
    grad_a = torch.cat([ranks[0]["grad_a"], ranks[1]["grad_a"]]) / 2
    grad_b = torch.cat([ranks[0]["grad_b"], ranks[1]["grad_b"]]) / 2
    torch.testing.assert_close(grad_a, a.grad)
    torch.testing.assert_close(grad_b, b.grad)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, build_phantom_corpus):
    return build_phantom_corpus(tmp_path_factory, "ddp", 12, split_fractions=(0.7, 0.3, 0.0))


def _config(root: Path, corpus: Path, name: str, steps: int, parallel: str = "ddp") -> str:
    document = {"corpus": str(corpus), "seed": 0, "stages": {"stage1": {
        "stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}}, "steps": steps, "batch_size": 8,
        "lr": 3e-3, "schedule": "constant", "augment": False, "checkpoint": str(root / f"{name}.pt"),
        "log_every": 1, "parallel": parallel}}}  # fmt: skip
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def _torchrun(config: str, n: int, log: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
               "--no-python", str(Path(sys.executable).parent / "neuronarrator"), "train", "stage1", "--config", config]  # fmt: skip
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=300, check=False)
    assert done.returncode == 0, log.read_text()[-4000:]


@pytest.fixture(scope="module")
def single_process_run(corpus, tmp_path_factory):
    """The reference: one process, 8 steps of global batches of 8."""
    root = tmp_path_factory.mktemp("single")
    assert main(["train", "stage1", "--config", _config(root, corpus, "single", steps=8)]) == 0
    return load_checkpoint(root / "single.pt")


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_processes_train_stage1_like_one_and_resume_across_world_sizes(corpus, single_process_run, parallel,
                                                                            tmp_path) -> None:  # fmt: skip
    reference = single_process_run
    # the same config on 2 processes (4 segments each; FSDP: each also holds half of every parameter and
    # of the optimizer state), stopped at step 4 ...
    ddp = _config(tmp_path, corpus, "ddp", steps=4, parallel=parallel)
    _torchrun(ddp, 2, tmp_path / "torchrun.log")
    two = load_checkpoint(tmp_path / "ddp.pt")
    assert two["step"] == 4 and two["manifest"]["stage"] == "stage1"
    assert "Warning" not in (tmp_path / "torchrun.log").read_text()
    # the mean of the ranks' losses is the single-process loss, step after step (float rounding apart:
    # the sums run in another order)
    torch.testing.assert_close(two["history"], reference["history"][:4], rtol=1e-4, atol=1e-4)
    assert not list(tmp_path.glob(".*partial*")), "a temporary checkpoint was left behind"

    # ... then resumed by a single process to step 6: the same data order as the uninterrupted run
    resumed_config = yaml.safe_load(Path(ddp).read_text())
    resumed_config["stages"]["stage1"]["steps"] = 6
    Path(ddp).write_text(yaml.safe_dump(resumed_config))
    assert main(["train", "stage1", "--config", ddp]) == 0
    resumed = load_checkpoint(tmp_path / "ddp.pt")
    assert resumed["step"] == 6
    torch.testing.assert_close(resumed["history"][:4], two["history"])
    torch.testing.assert_close(resumed["history"], reference["history"][:6], rtol=1e-4, atol=1e-4)

    # ... and by 2 processes again to step 8 (the plain checkpoint's optimizer state sharded under FSDP)
    resumed_config["stages"]["stage1"]["steps"] = 8
    Path(ddp).write_text(yaml.safe_dump(resumed_config))
    _torchrun(ddp, 2, tmp_path / "torchrun-2.log")
    resumed = load_checkpoint(tmp_path / "ddp.pt")
    assert resumed["step"] == 8 and resumed["manifest"]["stage"] == "stage1"
    torch.testing.assert_close(resumed["history"], reference["history"], rtol=1e-4, atol=1e-4)
    # and the same model: its validation (stage 1's heads and calibration, on the val split) agrees. (Not
    # compared weight by weight: a conv bias feeding a normalisation has a zero gradient up to rounding,
    # which Adam scales up to ±lr steps, so that bias drifts while every output stays the same.)
    val, ref_val = resumed["manifest"]["val"], reference["manifest"]["val"]
    assert val["presence"]["macro_auroc"] == pytest.approx(ref_val["presence"]["macro_auroc"], abs=1e-6)
    assert val["side_accuracy"] == ref_val["side_accuracy"] and val["state_accuracy"] == ref_val["state_accuracy"]


@pytest.mark.slow
def test_an_uneven_split_is_a_config_error(corpus, tmp_path: Path) -> None:
    ddp = _config(tmp_path, corpus, "odd", steps=2)
    document = yaml.safe_load(Path(ddp).read_text())
    document["stages"]["stage1"]["batch_size"] = 7
    Path(ddp).write_text(yaml.safe_dump(document))
    log = tmp_path / "odd.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "--no-python", str(Path(sys.executable).parent / "neuronarrator"), "train", "stage1", "--config", ddp]  # fmt: skip
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=300, check=False)
    assert done.returncode != 0
    assert "cannot be split evenly over 2 processes" in log.read_text()
    assert not (tmp_path / "odd.pt").exists()


@pytest.mark.slow
def test_every_stage_trains_under_torchrun(corpus, tmp_path: Path) -> None:
    """``train all`` of CLEF's three stages and NeuroNarrator's two on 2 processes: every stage's loss
    runs through DDP (the session stage's masking, the aligner's gathered InfoNCE with groups and EHR, the
    narrator's tokenizer written by rank 0) and every checkpoint comes out finished."""
    ck = tmp_path / "ck"
    stages = {
        "tokenizer": {"tokenizer": "tiny", "tokenizer_overrides": {"session_s": 20.0}, "steps": 2, "batch_size": 8,
                      "lr": 3e-3, "checkpoint": str(ck / "tok.pt")},
        "session": {"session": "tiny", "steps": 2, "batch_size": 4, "lr": 3e-3, "checkpoint": str(ck / "session.pt")},
        "align": {"steps": 2, "batch_size": 4, "lr": 1e-3, "align": {"d_align": 32, "ehr_hidden": 32},
                  "checkpoint": str(ck / "align.pt")},
        "stage1": {"stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}}, "steps": 2, "batch_size": 4,
                   "lr": 3e-3, "checkpoint": str(ck / "s1.pt")},
        "narrator": {"steps": 2, "batch_size": 4, "lr": 3e-3, "lm": "tiny", "bridge": "tiny", "tokenizer_vocab": 300,
                     "max_text_tokens": 32, "checkpoint": str(ck / "n.pt")},
    }  # fmt: skip
    config = tmp_path / "all.yaml"
    config.write_text(yaml.safe_dump({"corpus": str(corpus), "seed": 0, "stages": stages}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "--no-python", str(Path(sys.executable).parent / "neuronarrator"), "train", "all", "--config", str(config)]  # fmt: skip
    log = tmp_path / "all.log"
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=600, check=False)
    assert done.returncode == 0, log.read_text()[-4000:]
    for name, file in (("tokenizer", "tok.pt"), ("session", "session.pt"), ("align", "align.pt"),
                       ("stage1", "s1.pt"), ("narrator", "n.pt")):  # fmt: skip
        ckpt = load_checkpoint(ck / file)
        assert ckpt["manifest"]["stage"] == name and ckpt["step"] == 2, name
        assert torch.isfinite(ckpt["history"]).all() and len(ckpt["history"]) == 2, name
    assert (ck / "n.pt.tokenizer" / "tokenizer.json").is_file()
    printed = [line for line in log.read_text().splitlines() if line.startswith(("tokenizer:", "narrator:"))]
    assert len(printed) == 2, printed  # rank 0 alone reports
