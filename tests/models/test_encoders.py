"""Stage-1 encoders, finding heads and the stage-1 model (tiny configs, CPU, one thread)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES, STATES
from neuronarrator.models.encoders import (
    TopomapConfig,
    TopomapEncoder,
    WaveformConfig,
    WaveformEncoder,
    bipolar_flags,
)
from neuronarrator.models.finding_heads import FindingHeads, finding_loss, positive_weights
from neuronarrator.models.stage1 import Stage1Config, Stage1Model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_CODES = len(CODES)


def _segments(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    waveform_uv = 30.0 * torch.randn(batch, 19, 2000, generator=gen)
    channel_mask = torch.ones(batch, 19, dtype=torch.bool)
    return waveform_uv, channel_mask


@pytest.fixture(scope="module")
def phantom_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from neuronarrator.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("stage1") / "corpus"
    build_corpus([("phantom", None, {"sessions": 6, "duration_s": 20})], out, scheduler="synchronous",
                 cache_topomaps=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def corpus_batch(phantom_corpus: Path) -> dict:
    from torch.utils.data import DataLoader

    from neuronarrator.corpus.datasets import SegmentDataset

    dataset = SegmentDataset(phantom_corpus, split=None)
    assert len(dataset) >= 8
    return next(iter(DataLoader(dataset, batch_size=8, shuffle=False)))


# --- waveform encoder ------------------------------------------------------------------------------------


def test_waveform_encoder_shapes() -> None:
    torch.manual_seed(0)
    config = WaveformConfig.tiny()
    encoder = WaveformEncoder(config).eval()
    waveform_uv, channel_mask = _segments(3)
    channel_mask[1, 4] = False
    out = encoder(waveform_uv, channel_mask, torch.tensor([False, True, False]))
    assert out.embedding.shape == (3, config.d_model)
    assert out.tokens.shape == (3, 19, 10, config.d_model)
    assert out.token_mask.shape == (3, 19, 10)
    assert not out.token_mask[1, 4].any() and out.token_mask[0].all()
    assert torch.all(out.tokens[1, 4] == 0)  # masked channel: no features
    assert torch.isfinite(out.embedding).all()


def test_waveform_encoder_rejects_wrong_shape() -> None:
    encoder = WaveformEncoder(WaveformConfig.tiny())
    with pytest.raises(ValueError, match="expected segments"):
        encoder(torch.zeros(1, 19, 1000), torch.ones(1, 19, dtype=torch.bool))


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_masked_channel_does_not_change_outputs(pool: str) -> None:
    torch.manual_seed(0)
    config = WaveformConfig.tiny()
    config.pool = pool
    encoder = WaveformEncoder(config).eval()
    waveform_uv, channel_mask = _segments(2)
    channel_mask[:, [3, 18]] = False
    before = encoder(waveform_uv, channel_mask)
    changed = waveform_uv.clone()
    changed[:, 3] = 1e4 * torch.randn(2, 2000)
    changed[:, 18] = float("nan")  # garbage in a masked row never reaches the network
    after = encoder(changed, channel_mask)
    torch.testing.assert_close(after.embedding, before.embedding, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(after.tokens, before.tokens, rtol=1e-5, atol=1e-6)
    # ... whereas a valid channel does change them
    changed = waveform_uv.clone()
    changed[:, 5] += 100.0 * torch.randn(2, 2000)
    assert not torch.allclose(encoder(changed, channel_mask).embedding, before.embedding, atol=1e-4)


def test_all_channels_masked_is_finite() -> None:
    encoder = WaveformEncoder(WaveformConfig.tiny()).eval()
    waveform_uv, _ = _segments(1)
    out = encoder(waveform_uv, torch.zeros(1, 19, dtype=torch.bool))
    assert torch.isfinite(out.embedding).all() and torch.isfinite(out.tokens).all()


def test_montage_flag_changes_output() -> None:
    torch.manual_seed(0)
    encoder = WaveformEncoder(WaveformConfig.tiny()).eval()
    waveform_uv, channel_mask = _segments(2)
    referential = encoder(waveform_uv, channel_mask, torch.tensor([False, False]))
    bipolar = encoder(waveform_uv, channel_mask, torch.tensor([True, True]))
    assert not torch.allclose(referential.embedding, bipolar.embedding, atol=1e-4)
    torch.testing.assert_close(bipolar_flags(["referential", "bipolar"]), torch.tensor([False, True]))
    with pytest.raises(ValueError, match="unknown montage"):
        bipolar_flags(["laplacian"])


# --- topomap encoder -------------------------------------------------------------------------------------


def test_topomap_encoder_shapes_and_no_map() -> None:
    torch.manual_seed(0)
    encoder = TopomapEncoder(TopomapConfig.tiny()).eval()
    maps = torch.rand(3, 5, 32, 32) * 2
    maps[2] = 0.0  # a bipolar segment: no map
    out = encoder(maps)  # has_topomap inferred: the all-zero map has none
    assert out.shape == (3, 32)
    torch.testing.assert_close(out[2], encoder.no_map.detach())
    torch.testing.assert_close(encoder(maps, torch.tensor([True, False, False]))[1], encoder.no_map.detach())
    assert not torch.allclose(out[0], out[1])


# --- finding heads and loss ------------------------------------------------------------------------------


def test_finding_heads_shapes() -> None:
    heads = FindingHeads(24, 16)
    out = heads(torch.randn(4, 24))
    assert out["presence"].shape == (4, N_CODES)
    assert out["side"].shape == (4, N_CODES, len(SIDES))
    assert out["regions"].shape == (4, N_CODES, len(REGIONS))
    assert out["state"].shape == (4, len(STATES))


def test_positive_weights_and_prior_shift() -> None:
    labels = np.zeros((10, 3))
    labels[:1, 0] = 1  # 1 positive of 10
    labels[:5, 1] = 1  # balanced
    counted = np.ones_like(labels, bool)
    counted[5:, 0] = False  # only 5 counted rows for code 0: 1 pos, 4 neg
    w = positive_weights(labels, counted, max_weight=30.0)
    np.testing.assert_allclose(w, [4.0, 1.0, 30.0])  # code 2 has no positive: the cap
    assert positive_weights(np.zeros((4, 1)) + (np.arange(4)[:, None] < 3), max_weight=30.0)[0] == 1.0  # clip at 1

    heads = FindingHeads(8, 8, n_codes=3)
    x = torch.randn(5, 8)
    raw = heads(x)["presence"].detach()
    heads.set_pos_weight(torch.tensor([4.0, 1.0, 30.0]))
    shifted = heads(x)["presence"].detach()
    torch.testing.assert_close(raw - shifted, torch.log(torch.tensor([4.0, 1.0, 30.0])).expand(5, 3))
    # the loss sees the weighted logits again: equal to a weighted BCE on the linear layer's output
    out = {k: v for k, v in heads(x).items()}
    targets = {"findings": torch.tensor(labels[:5]).float(), "side": torch.full((5, 3), -1),
               "regions": torch.zeros(5, 3, len(REGIONS))}
    got = finding_loss(out, targets, pos_weight=heads.pos_weight)["presence"]
    want = torch.nn.functional.binary_cross_entropy_with_logits(raw, targets["findings"], pos_weight=heads.pos_weight)
    torch.testing.assert_close(got, want)


def test_finding_loss_state_masked() -> None:
    targets = _targets(3)
    targets["state"] = torch.tensor([0, -1, 3])
    out = _logits(3)
    out["state"] = torch.randn(3, len(STATES)).requires_grad_()
    terms = finding_loss(out, targets)
    want = torch.nn.functional.cross_entropy(out["state"][[0, 2]], torch.tensor([0, 3]))
    torch.testing.assert_close(terms["state"], want)
    terms["total"].backward()
    assert torch.all(out["state"].grad[1] == 0) and out["state"].grad[0].abs().sum() > 0


def _targets(batch: int) -> dict[str, torch.Tensor]:
    findings = torch.zeros(batch, N_CODES)
    findings[:, 0] = 1.0
    side = torch.full((batch, N_CODES), -1, dtype=torch.long)
    side[:, 0] = 1
    regions = torch.zeros(batch, N_CODES, len(REGIONS))
    regions[:, 0, 2] = 1.0
    return {
        "findings": findings,
        "side": side,
        "regions": regions,
        "labels_complete": torch.ones(batch, dtype=torch.bool),
    }


def _logits(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "presence": torch.randn(batch, N_CODES, generator=gen, requires_grad=False).requires_grad_(),
        "side": torch.randn(batch, N_CODES, len(SIDES), generator=gen).requires_grad_(),
        "regions": torch.randn(batch, N_CODES, len(REGIONS), generator=gen).requires_grad_(),
    }


def test_finding_loss_partial_labels_ignore_absent_codes() -> None:
    targets = _targets(2)
    targets["labels_complete"] = torch.tensor([True, False])
    out = _logits(2)
    terms = finding_loss(out, targets)
    assert set(terms) == {"presence", "side", "regions", "state", "total"}
    assert terms["state"].item() == 0.0  # no state targets: the term is a 0 on the graph
    terms["total"].backward()
    grad = out["presence"].grad
    assert torch.all(grad[1, 1:] == 0)  # partial row: absent codes are unknown, no gradient
    assert grad[1, 0] != 0 and torch.all(grad[0] != 0)  # its positive and the complete row count
    # changing an absent code's logit of the partial row changes nothing
    moved = {k: v.detach().clone() for k, v in out.items()}
    moved["presence"][1, 5] += 10.0
    torch.testing.assert_close(finding_loss(moved, targets)["presence"], terms["presence"].detach())


def test_finding_loss_side_and_regions_masks() -> None:
    targets = _targets(2)
    targets["side"][1, 0] = -1  # row 1: present, side unknown
    out = _logits(2)
    terms = finding_loss(out, targets)
    terms["total"].backward()
    side_grad, region_grad = out["side"].grad, out["regions"].grad
    assert torch.all(side_grad[1] == 0)  # side -1: ignored
    assert torch.all(side_grad[0, 1:] == 0) and side_grad[0, 0].abs().sum() > 0  # absent codes: ignored
    assert torch.all(region_grad[:, 1:] == 0) and torch.all(region_grad[:, 0] != 0)
    # no side anywhere: the term is 0 and backward still works
    targets["side"][:] = -1
    out = _logits(2)
    terms = finding_loss(out, targets)
    assert terms["side"].item() == 0.0
    terms["total"].backward()
    assert torch.all(out["side"].grad == 0)


# --- stage-1 model on a phantom corpus -------------------------------------------------------------------


def test_stage1_batch_losses_and_backward(corpus_batch: dict) -> None:
    torch.manual_seed(0)
    model = Stage1Model(Stage1Config.tiny())
    terms = model.losses(corpus_batch)
    assert {"info_nce", "presence", "side", "regions", "finding", "total"} <= set(terms)
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["info_nce"] > 0
    terms["total"].backward()
    for name in (
        "waveform_encoder",
        "topomap_encoder",
        "heads",
        "waveform_proj",
        "topomap_proj",
        "temperature",
    ):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    out = model(corpus_batch)
    assert out["tokens"].shape == (8, 19, 10, 32)


def test_stage1_training_lowers_loss(corpus_batch: dict) -> None:
    torch.manual_seed(0)
    model = Stage1Model(Stage1Config.tiny())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        total = model.losses(corpus_batch)["total"]
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses


def test_stage1_single_topomap_row(corpus_batch: dict) -> None:
    torch.manual_seed(0)
    model = Stage1Model(Stage1Config.tiny())
    batch = dict(corpus_batch)
    batch["montage"] = ["referential"] + ["bipolar"] * 7
    terms = model.losses(batch)
    assert terms["info_nce"].item() == 0.0
    assert terms["info_nce"].requires_grad and torch.isfinite(terms["total"])
    terms["total"].backward()
    # no map at all: still a zero on the graph
    batch["montage"] = ["bipolar"] * 8
    model.zero_grad()
    terms = model.losses(batch)
    assert terms["info_nce"].item() == 0.0 and terms["info_nce"].requires_grad
    terms["total"].backward()
    assert model.topomap_encoder.no_map.grad.abs().sum() > 0  # the heads read the "no map" vector


def test_stage1_seed_determinism(corpus_batch: dict) -> None:
    def run() -> tuple[float, torch.Tensor]:
        torch.manual_seed(123)
        model = Stage1Model(Stage1Config.tiny())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for _ in range(2):
            total = model.losses(corpus_batch)["total"]
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        return total.item(), model(corpus_batch)["waveform"].detach()

    (loss_a, emb_a), (loss_b, emb_b) = run(), run()
    assert loss_a == loss_b
    torch.testing.assert_close(emb_a, emb_b, rtol=0, atol=0)


def test_stage1_on_bipolar_and_partial_sessions(fake_source, tmp_path: Path) -> None:
    """Real bipolar rows (all-zero maps, an empty 19th row) and partial labels, straight from a corpus."""
    from torch.utils.data import DataLoader

    from neuronarrator.corpus.build import build_corpus
    from neuronarrator.corpus.datasets import SegmentDataset

    options = {"sessions": 3, "duration_s": 20, "bipolar": (1,), "partial": (2,)}
    build_corpus([(fake_source, None, options)], tmp_path / "c", scheduler="synchronous", cache_topomaps=True)
    batch = next(iter(DataLoader(SegmentDataset(tmp_path / "c", split=None), batch_size=6)))
    assert "bipolar" in batch["montage"] and not batch["labels_complete"].all()
    torch.manual_seed(0)
    model = Stage1Model(Stage1Config.tiny())
    out = model(batch)
    torch.testing.assert_close(out["has_topomap"], bipolar_flags(batch["montage"]).logical_not())
    terms = model.losses(batch)
    assert all(torch.isfinite(v) for v in terms.values())
    terms["total"].backward()
