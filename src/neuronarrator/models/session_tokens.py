"""A whole session → the tokens CLEF's session Transformer reads.

:func:`signal_tiles` takes a harmonized session (:class:`~neuronarrator.eval.signals.SessionSignal`),
forms the double banana (``bipolar_matrix @ referential``; bipolar-only sessions already are it; bipolar
power cannot be derived from referential power, so this is done on the waveform), computes the multitaper
spectrogram of the 18 derivations and cuts the 16 lateral ones into tiles (:mod:`.tiles`).
:func:`tokenize_session` encodes the tiles with a trained tokenizer and says which tokens hold data: a
token is padding when its derivation touches a missing electrode (``channel_mask``) or when every
spectrogram column under its code column is padding (the end of a session shorter than a whole number of
``session_s``). Padding tokens are masked out of attention and of the masked-token loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neuronarrator.models.tokenizer import SpectrogramTokenizer, TokenizerConfig


@dataclass(frozen=True)
class SessionTiles:
    """tiles (n_tiles, 1, F, T) float32, tile_index (n_tiles, 2) long (derivation, time tile),
    column_mask (n_tiles, T) bool (True: the column holds data), tile_ok (n_tiles,) bool (the tile's
    derivation has both electrodes)."""

    tiles: torch.Tensor
    tile_index: torch.Tensor
    column_mask: torch.Tensor
    tile_ok: torch.Tensor


@dataclass(frozen=True)
class SessionTokens:
    """codes (n_tiles, h·w) long, tile_index (n_tiles, 2) long, token_valid (n_tiles, h·w) bool."""

    codes: torch.Tensor
    tile_index: torch.Tensor
    token_valid: torch.Tensor

    @property
    def n_valid(self) -> int:
        return int(self.token_valid.sum())


def signal_tiles(signal, config: TokenizerConfig) -> SessionTiles:
    """Tiles of one session (see the module docstring).

    Parameters
    ----------
    signal : SessionSignal
        19 rows at 200 Hz in µV, its channel mask and montage.
    config : TokenizerConfig
    """
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.io.channels import DOUBLE_BANANA_NAMES, double_banana
    from neuronarrator.models.tiles import LATERAL_16, session_tiles
    from neuronarrator.signal.multitaper import multitaper_spectrogram

    data_uv, deriv_ok = double_banana(signal.data_uv, signal.channel_mask, signal.montage)  # (18, n), (18,)
    spec = multitaper_spectrogram(data_uv.astype(np.float32), SFREQ_HZ, fmax_hz=config.fmax_hz)
    tiles, tile_index, column_mask = session_tiles(
        spec.log_psd, spec.freqs_hz, spec.times_s, config, derivations=DOUBLE_BANANA_NAMES
    )
    lateral_ok = torch.as_tensor(np.array([deriv_ok[DOUBLE_BANANA_NAMES.index(n)] for n in LATERAL_16]))
    tile_ok = lateral_ok[tile_index[:, 0]]  # (n_tiles,)
    return SessionTiles(tiles, tile_index, column_mask, tile_ok)


def token_valid(column_mask: torch.Tensor, tile_ok: torch.Tensor, config: TokenizerConfig) -> torch.Tensor:
    """(n_tiles, h·w) bool: a token holds data when its tile is ok and any spectrogram column under its
    code column does (row-major order, as :meth:`SpectrogramTokenizer.encode`)."""
    n_tiles = column_mask.shape[0]
    cols_per_code = config.tile_times // config.codes_time
    per_code_col = column_mask.reshape(n_tiles, config.codes_time, cols_per_code).any(-1)  # (n, w)
    valid = per_code_col[:, None, :].expand(n_tiles, config.codes_freq, config.codes_time)  # (n, h, w)
    return valid.reshape(n_tiles, -1) & tile_ok[:, None]


@torch.no_grad()
def tokenize_session(tokenizer: SpectrogramTokenizer, signal, batch_size: int = 64) -> SessionTokens:
    """Encode one session with a trained tokenizer (eval mode; the codebook is never updated)."""
    tokenizer.eval()
    config = tokenizer.config
    tiles = signal_tiles(signal, config)
    device = next(tokenizer.parameters()).device
    codes = torch.cat(
        [
            tokenizer.encode(tiles.tiles[b : b + batch_size].to(device)).cpu()
            for b in range(0, len(tiles.tiles), batch_size)
        ]
    )  # (n_tiles, h·w)
    return SessionTokens(codes, tiles.tile_index, token_valid(tiles.column_mask, tiles.tile_ok, config))


def tokenize_sessions(tokenizer: SpectrogramTokenizer, signals, batch_size: int = 64) -> list[SessionTokens]:
    return [tokenize_session(tokenizer, s, batch_size) for s in signals]
