"""The session Transformer: shapes, padding, positions, masked-token pretraining, attention reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuronarrator.models.session import (
    SelfAttention,
    SessionConfig,
    SessionTransformer,
    mask_tokens,
    masked_token_loss,
    positions_for,
    session_batch,
)
from neuronarrator.models.tiles import n_tokens, session_tiles
from neuronarrator.models.tokenizer import SpectrogramTokenizer, TokenizerConfig


def _tile_index(n_time_tiles: int, n_derivs: int = 16) -> torch.Tensor:
    """(derivation, time tile) in session_tiles' time-major order."""
    return torch.stack([torch.arange(n_derivs).repeat(n_time_tiles),
                        torch.arange(n_time_tiles).repeat_interleave(n_derivs)], dim=1)  # fmt: skip


def _random_batch(config: SessionConfig, n_time_tiles: list[int], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cpt = config.codes_freq * config.codes_time
    codes = [torch.randint(0, config.vocab_size, (16 * n, cpt), generator=g) for n in n_time_tiles]
    return session_batch(codes, [_tile_index(n) for n in n_time_tiles], config)


def _model(config: SessionConfig, seed: int = 0) -> SessionTransformer:
    torch.manual_seed(seed)
    return SessionTransformer(config).eval()


def test_configs_match_tokenizer():
    for s, t in (
        (SessionConfig.tiny(), TokenizerConfig.tiny()),
        (SessionConfig.paper(), TokenizerConfig.paper()),
    ):
        assert (s.vocab_size, s.codes_freq, s.codes_time) == (t.codebook_size, t.codes_freq, t.codes_time)
    paper = SessionConfig.paper()
    assert paper.n_derivations * paper.codes_freq * paper.codes_time == 2048
    assert len({paper.mask_id, paper.pad_id, paper.cls_id}) == 3 and paper.mask_id >= paper.vocab_size


def test_positions_for_follows_tile_and_row_major_order():
    config = SessionConfig.tiny()  # 4 × 8 codes per tile
    derivation, freq_row, time_pos = positions_for(torch.tensor([[3, 0], [5, 2]]), config)
    assert derivation.shape == (64,)
    assert derivation[:32].eq(3).all() and derivation[32:].eq(5).all()
    assert freq_row[:8].eq(0).all() and freq_row[8:16].eq(1).all()  # row-major: a row's 8 columns first
    assert time_pos[:8].tolist() == list(range(8)) and time_pos[8] == 0
    assert time_pos[32:40].tolist() == list(range(16, 24))  # time tile 2 → columns 16..23


def test_tiny_forward_shapes_and_padding_is_ignored():
    config = SessionConfig.tiny()
    model = _model(config)
    batch = _random_batch(config, [2, 1])  # the second session is padded to the first's length
    n = 2 * 16 * 32
    assert batch["codes"].shape == (2, n) and batch["pad_mask"][1].sum() == n // 2
    hidden, emb = model(**batch)
    assert hidden.shape == (2, n, config.d_model) and emb.shape == (2, config.d_model)

    changed = {k: v.clone() for k, v in batch.items()}
    changed["codes"][1, -5:] = 7  # padded tokens: new codes and (out-of-range) positions
    changed["time_pos"][1, -5:] = 10_000
    hidden2, emb2 = model(**changed)
    torch.testing.assert_close(emb2, emb, rtol=0, atol=1e-6)
    valid = ~batch["pad_mask"]
    torch.testing.assert_close(hidden2[valid], hidden[valid], rtol=0, atol=1e-6)
    mean = model.session_embedding(batch, pool="mean")
    torch.testing.assert_close(model.session_embedding(changed, pool="mean"), mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(model.session_embedding(batch, pool="cls"), emb)
    with pytest.raises(ValueError, match="pool must be"):
        model.session_embedding(batch, pool="max")


def test_paper_config_forward_on_2048_tokens():
    config = SessionConfig.paper()
    model = _model(config)
    batch = _random_batch(config, [1])
    assert batch["codes"].shape == (1, 2048)
    with torch.no_grad():
        hidden, emb = model(**batch)
    assert hidden.shape == (1, 2048, 512) and torch.isfinite(emb).all()


def test_thirty_minute_session_from_tiles_runs():
    """Spectrogram → tiles → tiny tokenizer codes → session model, for 30 minutes (2 time tiles)."""
    tok_config, config = TokenizerConfig.tiny(), SessionConfig.tiny()
    times_s = 2.5 + np.arange(1800 - 4, dtype=np.float64)
    log_psd = np.random.default_rng(0).random((16, 161, times_s.size), dtype=np.float32)
    tiles, tile_index, _ = session_tiles(log_psd, np.arange(161) * 0.2, times_s, tok_config)
    torch.manual_seed(0)
    codes = SpectrogramTokenizer(tok_config).eval().encode(tiles)  # (32, 32)
    batch = session_batch([codes], [tile_index], config)
    assert batch["codes"].shape == (1, n_tokens(1800, tok_config)) and batch["time_pos"].max() == 15
    hidden, emb = _model(config)(**batch)
    assert hidden.shape == (1, 1024, config.d_model) and torch.isfinite(emb).all()


def test_position_out_of_range_is_an_error():
    config = SessionConfig.tiny()  # max_time_tiles = 4
    batch = _random_batch(config, [5])
    with pytest.raises(ValueError, match="max_time_tiles"):
        _model(config)(**batch)


def test_masked_loss_is_on_masked_positions_only():
    config = SessionConfig.tiny()
    model = _model(config)
    batch = _random_batch(config, [2, 1])
    masked, target = mask_tokens(batch["codes"], 0.25, torch.Generator().manual_seed(1), config.mask_id,
                                 batch["pad_mask"])  # fmt: skip
    assert not (target & batch["pad_mask"]).any()
    assert target.sum(1).tolist() == [256, 128]  # 25 % of 1024 and of 512 valid tokens
    assert masked[target].eq(config.mask_id).all() and masked[~target].equal(batch["codes"][~target])

    loss = masked_token_loss(model, batch, 0.25, torch.Generator().manual_seed(1))
    hidden, _ = model(**{**batch, "codes": masked})
    logits = hidden @ model.tok_emb.weight[: config.vocab_size].T  # (B, N, V): the tied head by hand
    manual = torch.nn.functional.cross_entropy(logits[target], batch["codes"][target])
    torch.testing.assert_close(loss, manual)
    # A different target at an unmasked position changes the input there, so test the other direction:
    # targets at unmasked positions are not predicted, i.e. the loss is the mean over masked ones only.
    per_token = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), batch["codes"].flatten(), reduction="none"
    )
    assert not torch.isclose(per_token.mean(), loss)


def test_training_reduces_masked_loss_on_structured_sessions():
    """Codes repeat along time: each (derivation, frequency row) holds a fixed code plus a per-session shift
    (one of 4), so a masked code is predictable from its position and the session's other tokens."""
    config = SessionConfig.tiny()
    g = torch.Generator().manual_seed(0)
    table = torch.randint(0, config.vocab_size, (1, 16, config.codes_freq, 1), generator=g)

    def structured_batch(n: int) -> dict[str, torch.Tensor]:
        shift = 16 * torch.randint(0, 4, (n, 1, 1, 1), generator=g)
        base = (table + shift) % config.vocab_size  # (n, 16, h, 1)
        codes = base.expand(n, 16, config.codes_freq, config.codes_time)  # (n, 16, h, w): constant in time
        codes = codes.reshape(n, 16, config.codes_freq * config.codes_time)  # (n, tiles, h·w)
        return session_batch(list(codes), [_tile_index(1)] * n, config)

    model = _model(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    eval_batch = structured_batch(8)

    def eval_loss() -> float:
        with torch.no_grad():
            return masked_token_loss(model, eval_batch, 0.3, torch.Generator().manual_seed(9)).item()

    before = eval_loss()
    for _ in range(30):
        loss = masked_token_loss(model, structured_batch(4), 0.3, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = eval_loss()
    assert before > math.log(config.vocab_size) - 0.5  # chance at the start
    assert after < before - 0.75, (before, after)


def test_sdpa_matches_manual_attention():
    config = SessionConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=4, dropout=0.0, max_time_tiles=1,
                           codes_freq=2, codes_time=2)  # fmt: skip
    torch.manual_seed(0)
    attn = SelfAttention(config).eval()
    x = torch.randn(2, 5, 16)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    keep = ~pad[:, None, None, :]  # (B, 1, 1, T)
    y = attn(x, keep)

    q, k, v = attn.qkv(x).split(16, dim=2)
    q, k, v = (z.view(2, 5, 4, 4).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)  # (B, nh, T, T)
    scores = scores.masked_fill(~keep, float("-inf"))
    ref = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 16)  # (B, T, C)
    torch.testing.assert_close(y, attn.proj(ref), rtol=0, atol=1e-5)
