"""A whole session → session tokens: counts, padding from missing electrodes and from a short session."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neuronarrator.eval.signals import SessionSignal
from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA_NAMES
from neuronarrator.models.session_tokens import signal_tiles, token_valid, tokenize_session
from neuronarrator.models.tiles import LATERAL_16, n_tokens
from neuronarrator.models.tokenizer import SpectrogramTokenizer, TokenizerConfig

SFREQ = 200


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def config() -> TokenizerConfig:
    return dataclasses.replace(TokenizerConfig.tiny(), session_s=60.0)


@pytest.fixture(scope="module")
def tokenizer(config) -> SpectrogramTokenizer:
    torch.manual_seed(0)
    return SpectrogramTokenizer(config)


def _signal(duration_s: float, montage: str = "referential", missing: tuple[str, ...] = (), seed: int = 0):
    rng = np.random.default_rng(seed)
    data = (20.0 * rng.standard_normal((19, int(duration_s * SFREQ)))).astype(np.float32)
    mask = np.ones(19, bool)
    if montage == "bipolar":
        data[18] = 0.0  # 18 derivations and one empty row
        mask[18] = False
    for name in missing:
        index = CANONICAL_19.index(name) if montage == "referential" else DOUBLE_BANANA_NAMES.index(name)
        mask[index] = False
        data[index] = 0.0
    return SessionSignal(data, mask, montage, f"{montage}-{duration_s:g}")


@pytest.mark.parametrize(
    ("montage", "duration_s", "n_time_tiles"), [("referential", 90.0, 2), ("bipolar", 60.0, 1)]
)
def test_token_counts(tokenizer, config, montage, duration_s, n_time_tiles):
    tokens = tokenize_session(tokenizer, _signal(duration_s, montage))
    per_tile = config.codes_freq * config.codes_time
    n_tiles = len(LATERAL_16) * n_time_tiles
    assert tokens.codes.shape == (n_tiles, per_tile) == tokens.token_valid.shape
    assert tokens.codes.dtype == torch.long
    assert int(tokens.codes.min()) >= 0 and int(tokens.codes.max()) < config.codebook_size
    assert tokens.codes.numel() == n_tokens(duration_s, config)
    # time-major tile order: every lateral derivation of time tile 0, then of time tile 1, ...
    expected = [(d, t) for t in range(n_time_tiles) for d in range(len(LATERAL_16))]
    assert tokens.tile_index.tolist() == [list(pair) for pair in expected]


def test_whole_session_is_all_valid(tokenizer):
    tokens = tokenize_session(tokenizer, _signal(60.0))
    assert bool(tokens.token_valid.all()) and tokens.n_valid == tokens.codes.numel()


def test_missing_electrode_invalidates_its_derivations(tokenizer, config):
    # T3 is T7 in the modified combinatorial names: it is in F7-T7 and T7-P7 only
    tiles = signal_tiles(_signal(60.0, missing=("T7",)), config)
    bad = {LATERAL_16.index("F7-T7"), LATERAL_16.index("T7-P7")}
    assert [int(d) for d in tiles.tile_index[~tiles.tile_ok, 0]] == sorted(bad)
    tokens = tokenize_session(tokenizer, _signal(60.0, missing=("T7",)))
    derivation = tokens.tile_index[:, 0].tolist()
    for row, d in enumerate(derivation):
        assert bool(tokens.token_valid[row].any()) == (d not in bad), LATERAL_16[d]
        assert bool(tokens.token_valid[row].all()) == (d not in bad), LATERAL_16[d]
    assert tokens.n_valid == (len(LATERAL_16) - 2) * tokens.codes.shape[1]


def test_missing_bipolar_derivation(config):
    tiles = signal_tiles(_signal(60.0, "bipolar", missing=("Fp2-F8",)), config)
    assert [LATERAL_16[int(d)] for d in tiles.tile_index[~tiles.tile_ok, 0]] == ["Fp2-F8"]


def test_midline_electrode_leaves_lateral_tokens_valid(config):
    # Cz is only in the midline derivations, which are not tiled
    tiles = signal_tiles(_signal(60.0, missing=("Cz",)), config)
    assert bool(tiles.tile_ok.all())


def test_short_session_pads_trailing_code_columns(tokenizer, config):
    tokens = tokenize_session(tokenizer, _signal(30.0))  # half of session_s
    assert tokens.codes.shape[0] == len(LATERAL_16)
    grid = tokens.token_valid.reshape(-1, config.codes_freq, config.codes_time)
    half = config.codes_time // 2
    assert bool(grid[..., :half].all()) and not bool(grid[..., half:].any())

    # a session of 1.5 session_s: the first time tile is whole, the second half padding
    tokens = tokenize_session(tokenizer, _signal(90.0))
    grid = tokens.token_valid.reshape(-1, config.codes_freq, config.codes_time)
    first, second = tokens.tile_index[:, 1] == 0, tokens.tile_index[:, 1] == 1
    assert bool(grid[first].all())
    assert bool(grid[second][..., :half].all()) and not bool(grid[second][..., half:].any())


def test_token_valid_rule(config):
    # a code column is valid when any spectrogram column under it holds data
    per_code = config.tile_times // config.codes_time
    column_mask = torch.zeros(2, config.tile_times, dtype=torch.bool)
    column_mask[0, : per_code + 1] = True  # code column 0 whole, column 1 by one spectrogram column
    column_mask[1] = True
    valid = token_valid(column_mask, torch.tensor([True, False]), config)
    assert valid.shape == (2, config.codes_freq * config.codes_time)
    grid = valid.reshape(2, config.codes_freq, config.codes_time)
    assert bool(grid[0, :, :2].all()) and not bool(grid[0, :, 2:].any())
    assert not bool(grid[1].any())  # tile not ok: every token is padding
