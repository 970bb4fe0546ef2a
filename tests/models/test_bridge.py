"""The state-space bridge: the scan against its reference loop, causality, padding, shapes, learning."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neuronarrator.models.bridge import (
    BridgeConfig,
    SelectiveSSM,
    StateSpaceBridge,
    prefix_positions,
    selective_scan,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs(batch: int, n_steps: int, decay: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (batch, n_steps, 3, 4)
    u = torch.rand(shape, generator=g)
    a = {"uniform": u, "near_0": u * 1e-3, "near_1": 1.0 - u * 1e-3}[decay]
    return a, torch.randn(shape, generator=g)


@pytest.mark.parametrize("n_steps", [1, 5, 63, 64, 65, 300, 2000])
@pytest.mark.parametrize("decay", ["uniform", "near_0", "near_1"])
def test_parallel_scan_equals_sequential(n_steps: int, decay: str) -> None:
    a, b = _inputs(2, n_steps, decay)
    h0 = torch.randn(2, 3, 4)
    ref = selective_scan(a, b, h0, method="sequential")
    par = selective_scan(a, b, h0, method="parallel")
    assert par.shape == (2, n_steps, 3, 4)
    # near 1 over 2,000 steps the state grows to ~|Σ b| ≈ 100: compare relative to its scale
    scale = ref.abs().max().clamp(min=1.0)
    torch.testing.assert_close(par / scale, ref / scale, atol=1e-5, rtol=0)
    assert torch.isfinite(par).all()


def test_scan_respects_h0() -> None:
    a, b = _inputs(1, 40, "uniform")
    h0 = torch.full((1, 3, 4), 5.0)
    for method in ("sequential", "parallel"):
        with_h0 = selective_scan(a, b, h0, method=method)
        without = selective_scan(a, b, None, method=method)
        # the difference is h0 carried by the cumulative decay: h0 · Π_{s<=t} a_s
        torch.testing.assert_close(
            with_h0 - without, h0[:, None] * torch.cumprod(a, dim=1), atol=1e-5, rtol=1e-5
        )
    torch.testing.assert_close(selective_scan(a[:, :1], b[:, :1], h0)[:, 0], a[:, 0] * h0 + b[:, 0])


def test_scan_gradients_match() -> None:
    a, b = _inputs(1, 150, "uniform", seed=1)
    h0 = torch.randn(1, 3, 4)
    weights = torch.randn(1, 150, 3, 4)
    grads = {}
    for method in ("sequential", "parallel"):
        leaves = [t.clone().requires_grad_(True) for t in (a, b, h0)]
        (selective_scan(*leaves, method=method) * weights).sum().backward()
        grads[method] = [leaf.grad for leaf in leaves]
    for g_par, g_seq in zip(grads["parallel"], grads["sequential"], strict=True):
        assert torch.isfinite(g_par).all() and g_par.abs().sum() > 0
        torch.testing.assert_close(g_par, g_seq, atol=1e-4, rtol=1e-4)


def test_scan_rejects_bad_input() -> None:
    a, b = _inputs(1, 4, "uniform")
    with pytest.raises(ValueError, match="method"):
        selective_scan(a, b, method="blelloch")
    with pytest.raises(ValueError, match="h0"):
        selective_scan(a, b, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(B, T, D, N\)"):
        selective_scan(a, b[:, :2])


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_ssm_is_causal(scan: str) -> None:
    torch.manual_seed(0)
    layer = SelectiveSSM(16, d_state=4, scan=scan)
    x = torch.randn(2, 50, 16)
    changed = x.clone()
    changed[:, 30:] = torch.randn(2, 20, 16) * 3
    y, y_changed = layer(x), layer(changed)
    torch.testing.assert_close(y[:, :30], y_changed[:, :30], atol=1e-6, rtol=0)
    assert (y[:, 30:] - y_changed[:, 30:]).abs().max() > 1e-2  # the later steps do see the change


def test_ssm_padding_passes_state_through() -> None:
    torch.manual_seed(0)
    layer = SelectiveSSM(8, d_state=4, d_conv=3)
    x = torch.randn(1, 12, 8)
    padded = torch.cat([torch.randn(1, 3, 8) * 10, x, torch.randn(1, 2, 8) * 10], dim=1)  # junk around x
    mask = torch.ones(1, 17, dtype=torch.bool)
    mask[:, 3:15] = False
    torch.testing.assert_close(layer(padded, mask)[:, 3:15], layer(x), atol=1e-5, rtol=1e-5)


def _session(n_steps: int, cfg: BridgeConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, n_steps, cfg.d_seg, generator=g), torch.randn(1, n_steps, cfg.d_spec, generator=g)


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_padded_row_gives_the_prefix_of_the_session_alone(scan: str) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(BridgeConfig.tiny(), scan=scan)
    bridge = StateSpaceBridge(cfg).eval()
    lengths = (70, 3, 41)
    sessions = [_session(n, cfg, seed=i) for i, n in enumerate(lengths)]
    n_max = max(lengths)
    seg = torch.full((3, n_max, cfg.d_seg), float("nan"))  # NaN padding: must not leak anywhere
    spec = torch.full((3, n_max, cfg.d_spec), float("nan"))
    mask = torch.ones(3, n_max, dtype=torch.bool)
    for i, ((s, p), n) in enumerate(zip(sessions, lengths, strict=True)):
        seg[i, :n], spec[i, :n], mask[i, :n] = s[0], p[0], False
    with torch.no_grad():
        batched = bridge(seg, spec, mask)
        alone = torch.cat([bridge(s, p) for s, p in sessions])
    assert batched.shape == (3, cfg.n_prefix, cfg.d_lm)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("where", ["leading", "inside", "scattered"])
def test_padding_anywhere_gives_the_same_prefix(where: str) -> None:
    torch.manual_seed(0)
    cfg = BridgeConfig.tiny()
    bridge = StateSpaceBridge(cfg).eval()
    seg, spec = _session(20, cfg, seed=3)
    mask = torch.zeros(27, dtype=torch.bool)
    mask[
        {
            "leading": [0, 1, 2, 3, 4, 5, 6],
            "inside": [8, 9, 10, 11, 12, 13, 14],
            "scattered": [0, 4, 5, 11, 19, 25, 26],
        }[where]
    ] = True
    seg_padded = torch.randn(1, 27, cfg.d_seg) * 10
    spec_padded = torch.randn(1, 27, cfg.d_spec) * 10
    seg_padded[:, ~mask], spec_padded[:, ~mask] = seg, spec
    with torch.no_grad():
        torch.testing.assert_close(
            bridge(seg_padded, spec_padded, mask[None]), bridge(seg, spec), atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("n_steps", [1, 2, 300])
def test_shapes(n_steps: int) -> None:
    cfg = BridgeConfig.tiny()
    seg, spec = _session(n_steps, cfg, seed=0)
    prefix = StateSpaceBridge(cfg)(seg.expand(2, -1, -1), spec.expand(2, -1, -1))
    assert prefix.shape == (2, cfg.n_prefix, cfg.d_lm)
    assert torch.isfinite(prefix).all()


def test_prefix_positions_are_evenly_spaced_and_end_at_the_last_step() -> None:
    positions = prefix_positions(torch.tensor([1, 3, 8, 120]), 4)
    assert positions.tolist() == [[0, 0, 0, 0], [0, 1, 2, 2], [1, 3, 5, 7], [29, 59, 89, 119]]


def test_last_prefix_slot_sees_the_whole_session_and_the_first_does_not() -> None:
    torch.manual_seed(0)
    cfg = BridgeConfig.tiny()
    bridge = StateSpaceBridge(cfg).eval()
    seg, spec = _session(40, cfg, seed=1)
    changed = seg.clone()
    changed[:, -1] += 5.0
    with torch.no_grad():
        before, after = bridge(seg, spec), bridge(changed, spec)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])  # slots 0..2 end at steps 9, 19, 29
    assert (before[:, -1] - after[:, -1]).abs().max() > 1e-3


def test_bridge_rejects_bad_input() -> None:
    cfg = BridgeConfig.tiny()
    bridge = StateSpaceBridge(cfg)
    seg, spec = _session(4, cfg, seed=0)
    with pytest.raises(ValueError, match="spectral"):
        bridge(seg)
    with pytest.raises(ValueError, match="valid"):
        bridge(seg, spec, torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="scan"):
        BridgeConfig(scan="fast")


def test_seed_determinism() -> None:
    cfg = BridgeConfig.tiny()
    seg, spec = _session(30, cfg, seed=0)
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        outputs.append(StateSpaceBridge(cfg)(seg, spec))
    torch.testing.assert_close(outputs[0], outputs[1], atol=0, rtol=0)
    torch.manual_seed(8)
    assert not torch.allclose(StateSpaceBridge(cfg)(seg, spec), outputs[0])


def test_bridge_learns_a_whole_session_mean() -> None:
    """From the prefix, recover the mean over all steps of one input feature (a per-session offset
    plus noise), for sessions of 20-60 steps padded into one batch."""
    torch.manual_seed(0)
    cfg = BridgeConfig(d_seg=4, d_spec=0, d_model=16, n_layers=1, d_state=4, n_prefix=2, d_lm=8)
    bridge = StateSpaceBridge(cfg)
    head = torch.nn.Linear(cfg.n_prefix * cfg.d_lm, 1)
    opt = torch.optim.Adam([*bridge.parameters(), *head.parameters()], lr=1e-2)
    g = torch.Generator().manual_seed(0)

    def batch(size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = torch.randint(20, 61, (size,), generator=g)
        seg = torch.randn(size, 60, cfg.d_seg, generator=g)
        seg[..., 0] += 2.0 * torch.randn(size, 1, generator=g)
        mask = torch.arange(60)[None] >= lengths[:, None]
        target = seg[..., 0].masked_fill(mask, 0.0).sum(1) / lengths
        return seg, mask, target

    def loss_on(seg: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prediction = head(bridge(seg, None, mask).flatten(1)).squeeze(-1)
        return torch.nn.functional.mse_loss(prediction, target)

    held_out = batch(128)
    with torch.no_grad():
        initial = loss_on(*held_out).item()
    for _ in range(100):
        opt.zero_grad()
        loss_on(*batch()).backward()
        opt.step()
    with torch.no_grad():
        final = loss_on(*held_out).item()
    assert final < initial / 10, (initial, final)


def _autocast_matches_float32(device: str) -> None:
    torch.manual_seed(0)
    cfg = BridgeConfig.tiny()
    bridge = StateSpaceBridge(cfg).to(device)
    seg, spec = (t.to(device) for t in _session(80, cfg, seed=2))
    mask = torch.zeros(1, 80, dtype=torch.bool, device=device)
    mask[:, 70:] = True
    reference = bridge(seg, spec, mask)
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        prefix = bridge(seg, spec, mask)
    assert not torch.equal(prefix.float(), reference)  # autocast really ran (in bf16 projections)
    prefix.float().square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in bridge.parameters() if p.grad is not None)
    # bf16 keeps ~3 significant digits in the projections; the scan itself runs in float32
    torch.testing.assert_close(prefix.float(), reference, atol=0.1, rtol=0.05)


def test_bf16_autocast_on_cpu() -> None:
    _autocast_matches_float32("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_autocast_on_cuda() -> None:
    _autocast_matches_float32("cuda")
