"""A session spectrogram → the tokenizer's tiles (CLEF, DESIGN.md).

CLEF states 128 × 128 tiles, 8 × 16 codes per tile and 2,048 tokens per 20-minute session, but not how a
session becomes tiles. 2,048 / (8 · 16) = 16 tiles, so we assume (a documented assumption, not the
paper's text):

* a session is taken in the 16 lateral derivations of the double banana (the four chains Fp1-F7 … P8-O2:
  :data:`~neuronarrator.io.channels.DOUBLE_BANANA` without the midline Fz-Cz and Cz-Pz);
* each derivation's (n_freqs, n_windows) log(psd+1) image is resampled to ``tile_freqs`` rows spanning
  0..``fmax_hz`` and ``tile_times`` columns per ``session_s`` seconds (paper 128 per 1200 s, ~9.4 s a
  column), one tile per derivation per ``session_s``;
* a longer session gives more time tiles; the last one (or a short session's only one) is padded with
  zeros (log(0+1): no power) and a mask marks which columns hold data.

Resampling is ``torch.nn.functional.interpolate``: along time ``mode="area"`` (block averaging, so power
is averaged over the windows a column covers rather than sampled from one of them; an upsampled short
session repeats columns), along frequency ``mode="linear"`` with ``align_corners=True`` so that row 0 is
0 Hz and the last row is ``fmax_hz`` exactly.

Tiles are ordered time-major: all 16 derivations of time tile 0, then of time tile 1, …
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from neuronarrator.io.channels import DOUBLE_BANANA_NAMES
from neuronarrator.models.tokenizer import TokenizerConfig

#: The 16 lateral derivations (the double banana without its two midline ones), in montage order.
LATERAL_16: tuple[str, ...] = tuple(n for n in DOUBLE_BANANA_NAMES if n not in ("Fz-Cz", "Cz-Pz"))


def session_duration_s(times_s: np.ndarray) -> float:
    """Seconds of recording covered by spectrogram windows whose centres are ``times_s``.

    Centres are measured from the start of the recording (as
    :func:`~neuronarrator.signal.multitaper.multitaper_spectrogram` gives them), so the first centre is
    half a window and the windows span ``times_s[-1] + times_s[0]`` seconds: 1200 s for 20 minutes at
    5 s windows, 1 s hop (1196 windows, centres 2.5 … 1197.5).
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    if times_s.size == 0:
        raise ValueError("times_s is empty: the recording is shorter than one spectrogram window")
    return float(times_s[-1] + times_s[0])


def n_time_tiles(duration_s: float, config: TokenizerConfig) -> int:
    """Time tiles per derivation: one per started ``session_s`` (a 1e-6 tolerance absorbs rounding)."""
    return max(1, math.ceil(duration_s / config.session_s - 1e-6))


def n_tokens(duration_s: float, config: TokenizerConfig) -> int:
    """Tokens of a session of ``duration_s`` seconds: 2,048 for 1200 s with the paper config."""
    return len(LATERAL_16) * n_time_tiles(duration_s, config) * config.codes_per_tile


def _select_lateral(log_psd: np.ndarray, derivations: Sequence[str] | None) -> np.ndarray:
    """The 16 lateral rows of log_psd (n_rows, n_freqs, n_windows), in LATERAL_16 order."""
    if derivations is not None:
        index = {name: i for i, name in enumerate(derivations)}
        missing = [name for name in LATERAL_16 if name not in index]
        if missing:
            raise ValueError(f"derivations lack {missing}; compute the spectrogram on the double banana")
        return log_psd[[index[name] for name in LATERAL_16]]
    if log_psd.shape[0] == len(LATERAL_16):
        return log_psd
    if log_psd.shape[0] == len(DOUBLE_BANANA_NAMES):
        return log_psd[[DOUBLE_BANANA_NAMES.index(name) for name in LATERAL_16]]
    raise ValueError(
        f"log_psd has {log_psd.shape[0]} rows: give 16 lateral or 18 double-banana derivations, "
        "or pass derivations= with the row names"
    )


def session_tiles(
    log_psd: np.ndarray,
    freqs_hz: np.ndarray,
    times_s: np.ndarray,
    config: TokenizerConfig,
    derivations: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut a session spectrogram into tokenizer tiles.

    Parameters
    ----------
    log_psd : array, shape (n_rows, n_freqs, n_windows)
        log(psd+1) of bipolar derivations (a :class:`~neuronarrator.signal.multitaper.Spectrogram`'s
        ``log_psd``): 16 rows in :data:`LATERAL_16` order, 18 in double-banana order, or any rows named
        by ``derivations``.
    freqs_hz : array, shape (n_freqs,)
        Must reach ``config.fmax_hz``; bins above it are dropped.
    times_s : array, shape (n_windows,)
        Window centres from the start of the recording, in seconds.
    config : TokenizerConfig
        ``tile_freqs``, ``tile_times``, ``session_s`` and ``fmax_hz`` are used.
    derivations : sequence of str, optional
        Names of log_psd's rows (``"Fp1-F7"``…), to select the 16 lateral ones by name.

    Returns
    -------
    tiles : Tensor, shape (n_tiles, 1, tile_freqs, tile_times), float32
        n_tiles = 16 · n_time_tiles, time-major.
    tile_index : Tensor, shape (n_tiles, 2), long
        (derivation index into LATERAL_16, time-tile index) of each tile.
    mask : Tensor, shape (n_tiles, tile_times), bool
        True on columns that hold data, False on padding.
    """
    log_psd = _select_lateral(np.asarray(log_psd), derivations)
    freqs_hz = np.asarray(freqs_hz)
    if log_psd.shape[1:] != (freqs_hz.size, np.size(times_s)):
        raise ValueError(
            f"log_psd {log_psd.shape} does not match freqs_hz ({freqs_hz.size}) "
            f"and times_s ({np.size(times_s)})"
        )
    if freqs_hz[-1] < config.fmax_hz - 1e-6:
        raise ValueError(f"the spectrogram stops at {freqs_hz[-1]} Hz; compute it up to {config.fmax_hz} Hz")
    n_keep = int(np.searchsorted(freqs_hz, config.fmax_hz + 1e-6))
    n_derivs, _, n_windows = log_psd.shape
    n_tt = n_time_tiles(session_duration_s(times_s), config)
    n_cols = n_tt * config.tile_times
    n_valid = min(max(1, round(session_duration_s(times_s) / config.session_s * config.tile_times)), n_cols)

    x = torch.as_tensor(np.ascontiguousarray(log_psd[:, :n_keep]), dtype=torch.float32)  # (16, Fk, W)
    # Time first: on long sessions it shrinks the array ~10× before the frequency step.
    x = F.interpolate(x, size=n_valid, mode="area")  # (16, Fk, V)
    x = x.permute(0, 2, 1)  # (16, V, Fk): interpolate works on the last axis
    x = F.interpolate(x, size=config.tile_freqs, mode="linear", align_corners=True)  # (16, V, F)
    x = x.permute(0, 2, 1)  # (16, F, V)
    x = F.pad(x, (0, n_cols - n_valid))  # (16, F, n_tt·T), zero = log(0+1)
    x = x.reshape(n_derivs, config.tile_freqs, n_tt, config.tile_times)  # (16, F, n_tt, T)
    tiles = x.permute(2, 0, 1, 3).reshape(n_tt * n_derivs, 1, config.tile_freqs, config.tile_times)
    # tiles: (n_tt·16, 1, F, T), time-major

    deriv_idx = torch.arange(n_derivs).repeat(n_tt)  # (n_tiles,)
    time_idx = torch.arange(n_tt).repeat_interleave(n_derivs)  # (n_tiles,)
    tile_index = torch.stack([deriv_idx, time_idx], dim=1)  # (n_tiles, 2)
    valid = torch.arange(n_cols) < n_valid  # (n_tt·T,)
    mask = valid.reshape(n_tt, config.tile_times).repeat_interleave(n_derivs, dim=0)  # (n_tiles, T)
    return tiles.contiguous(), tile_index, mask
