"""The VQ-GAN spectrogram tokenizer and the session tiling (CLEF's 2,048 tokens per 20 minutes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronarrator.models.tiles import LATERAL_16, n_tokens, session_tiles
from neuronarrator.models.tokenizer import EMACodebook, SpectrogramTokenizer, TokenizerConfig

FREQS_HZ = np.arange(161) * 0.2  # 0..32 Hz at 5 s windows


def _session(duration_s: float, n_rows: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic log(psd+1) spectrogram at 5 s windows, 1 s hop: (n_rows, 161, n_windows), times_s."""
    times_s = 2.5 + np.arange(int(duration_s) - 4, dtype=np.float64)
    rng = np.random.default_rng(seed)
    log_psd = rng.random((n_rows, FREQS_HZ.size, times_s.size), dtype=np.float32)
    return log_psd, times_s


def _structured_tiles(n: int, config: TokenizerConfig, seed: int) -> torch.Tensor:
    """1/f background plus an alpha-like peak whose frequency and amplitude vary per tile and in time."""
    g = torch.Generator().manual_seed(seed)
    f = torch.linspace(0, 1, config.tile_freqs)[None, :, None]  # (1, F, 1)
    t = torch.linspace(0, 1, config.tile_times)[None, None, :]  # (1, 1, T)
    peak_f = 0.2 + 0.6 * torch.rand(n, 1, 1, generator=g)  # (n, 1, 1)
    amp = 0.5 + torch.rand(n, 1, 1, generator=g)
    phase = 6.28 * torch.rand(n, 1, 1, generator=g)
    tiles = 2.0 * (1 - f) + amp * torch.exp(-((f - peak_f) ** 2) / 0.005) * (
        1 + 0.5 * torch.sin(6 * t + phase)
    )
    return tiles[:, None].float()  # (n, 1, F, T)


def test_tiny_forward_backward_shapes():
    config = TokenizerConfig.tiny()
    torch.manual_seed(0)
    model = SpectrogramTokenizer(config)
    tiles = torch.randn(3, 1, config.tile_freqs, config.tile_times)
    recon, codes, losses = model(tiles)
    assert recon.shape == tiles.shape
    assert codes.shape == (3, config.codes_freq, config.codes_time)
    assert set(losses) == {"l1", "l2", "spectral", "commitment", "total"}
    losses["total"].backward()
    assert all(p.grad is not None for p in model.parameters())
    flat = model.encode(tiles)
    assert flat.shape == (3, config.codes_per_tile) and flat.dtype == torch.long
    assert model.decode(flat).shape == tiles.shape
    with pytest.raises(ValueError, match="tiles must be"):
        model(torch.randn(3, 1, 16, 16))


def test_paper_config_one_tile_gives_128_codes():
    config = TokenizerConfig.paper()
    assert (config.codebook_size, config.code_dim) == (8192, 32)
    torch.manual_seed(0)
    model = SpectrogramTokenizer(config).eval()
    codes = model.encode(torch.randn(1, 1, 128, 128))
    assert codes.shape == (1, 8 * 16)
    assert int(codes.min()) >= 0 and int(codes.max()) < 8192


def test_n_tokens_paper():
    config = TokenizerConfig.paper()
    assert n_tokens(1200, config) == 2048
    assert n_tokens(1800, config) == 4096  # a started 20 minutes is one more tile per derivation
    assert n_tokens(600, config) == 2048  # shorter sessions are padded, not shrunk


def test_session_tiles_20_minutes_gives_2048_codes():
    config = TokenizerConfig.paper()
    log_psd, times_s = _session(1200)
    assert log_psd.shape == (16, 161, 1196)
    tiles, tile_index, mask = session_tiles(log_psd, FREQS_HZ, times_s, config)
    assert tiles.shape == (16, 1, 128, 128) and tiles.dtype == torch.float32
    assert tile_index.tolist() == [[d, 0] for d in range(16)]
    assert bool(mask.all())
    torch.manual_seed(0)
    codes = SpectrogramTokenizer(config).eval().encode(tiles)
    assert codes.numel() == 2048 == n_tokens(1200, config)


def test_session_tiles_padding_selection_and_resampling():
    config = TokenizerConfig.paper()
    log_psd, times_s = _session(1800, n_rows=18)
    names = [*LATERAL_16[:8], "Fz-Cz", *LATERAL_16[8:], "Cz-Pz"]  # double-banana order
    log_psd[[8, 17]] = 99.0  # midline rows must be dropped
    tiles, tile_index, mask = session_tiles(log_psd, FREQS_HZ, times_s, config, derivations=names)
    assert tiles.shape == (32, 1, 128, 128)
    assert tile_index[16].tolist() == [0, 1]  # time-major
    assert int(mask[:16].sum()) == 16 * 128
    assert int(mask[16].sum()) == 64  # 600 s of the second 1200 s tile
    assert float(tiles[16:, ..., 64:].abs().max()) == 0.0  # padding
    assert float(tiles.max()) <= 1.0  # no midline row leaked in
    # A constant image stays constant; a frequency ramp keeps its endpoints (0 Hz and 32 Hz rows).
    ramp = np.broadcast_to(FREQS_HZ[None, :, None], (16, 161, times_s.size)).astype(np.float32)
    tiles, _, _ = session_tiles(ramp, FREQS_HZ, times_s, config)
    assert torch.allclose(tiles[0, 0, 0, :64], torch.zeros(64))
    assert torch.allclose(tiles[0, 0, -1, :64], torch.full((64,), 32.0))
    with pytest.raises(ValueError, match="rows"):
        session_tiles(log_psd[:5], FREQS_HZ, times_s, config)


def test_codebook_codes_in_range_and_dead_codes_restart():
    config = TokenizerConfig.tiny()
    torch.manual_seed(0)
    codebook = EMACodebook(config)
    codebook.embedding.add_(100.0)  # every code far from the data: all inputs collapse onto one code
    codebook.embed_sum.copy_(codebook.embedding)
    z = torch.randn(8, config.code_dim, 4, 8)  # (B, D, h, w)
    _, codes, _ = codebook(z, update=False)
    assert codes.shape == (8, 4, 8)
    assert torch.unique(codes).numel() <= 2
    codebook.train()
    for _ in range(10):
        _, codes, _ = codebook(torch.randn(8, config.code_dim, 4, 8))
    assert codebook.n_restarted > 0
    _, codes, _ = codebook(torch.randn(8, config.code_dim, 4, 8), update=False)
    assert int(codes.min()) >= 0 and int(codes.max()) < config.codebook_size
    assert torch.unique(codes).numel() >= config.codebook_size // 4


def test_straight_through_gradient_reaches_encoder():
    torch.manual_seed(0)
    model = SpectrogramTokenizer(TokenizerConfig.tiny())
    recon, _, losses = model(torch.randn(2, 1, 32, 32))
    losses["l1"].backward()  # reconstruction only: no commitment path to the encoder
    grad = model.encoder.conv_in.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_discriminator_option():
    config = TokenizerConfig.tiny()
    config.use_discriminator = True
    torch.manual_seed(0)
    model = SpectrogramTokenizer(config)
    tiles = torch.randn(2, 1, 32, 32)
    recon, _, losses = model(tiles)
    assert "adv" in losses
    d_loss = model.discriminator_loss(tiles, recon)
    assert d_loss.ndim == 0 and float(d_loss.detach()) >= 0


def _train(steps: int, seed: int) -> tuple[list[float], torch.Tensor]:
    config = TokenizerConfig.tiny()
    torch.manual_seed(seed)
    model = SpectrogramTokenizer(config)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for step in range(steps):
        tiles = _structured_tiles(8, config, seed=step)
        _, _, losses = model(tiles)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        history.append(float(losses["l1"].detach() + losses["l2"].detach()))
    return history, model.eval().encode(_structured_tiles(4, config, seed=999))


def test_training_reduces_reconstruction_loss():
    history, codes = _train(24, seed=0)
    first, last = np.mean(history[:3]), np.mean(history[-3:])
    assert last < 0.5 * first, (first, last)
    assert codes.shape == (4, 32)


def test_determinism_with_seed():
    history_a, codes_a = _train(3, seed=1)
    history_b, codes_b = _train(3, seed=1)
    assert history_a == history_b
    assert torch.equal(codes_a, codes_b)


def test_usage_and_perplexity():
    model = SpectrogramTokenizer(TokenizerConfig.tiny())
    codes = torch.tensor([[0, 0, 1, 1]])
    assert model.codebook_usage(codes) == 2 / 64
    assert model.perplexity(codes) == pytest.approx(2.0)


def test_mask_excludes_padding_from_reconstruction_loss():
    torch.manual_seed(0)
    model = SpectrogramTokenizer(TokenizerConfig.tiny()).eval()
    tiles = torch.randn(2, 1, 32, 32)
    mask = torch.arange(32).expand(2, 32) < 20  # (B, T): the last 12 columns are padding
    _, _, losses = model(tiles, mask=mask)
    with torch.no_grad():
        recon, _, _ = model(tiles)
    expected = (recon - tiles)[..., :20].abs().mean()
    assert float(losses["l1"].detach()) == pytest.approx(float(expected), rel=1e-5)
