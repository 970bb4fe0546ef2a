"""Topographic maps: per-channel values interpolated onto a 2-D scalp image.

A map is a *linear* function of the channel values, so it is one matrix ``W`` (n_pixels, n_chans)
computed once per channel set and grid size (cached) and applied with one matmul to any number of maps
at once, e.g. (n_windows, n_bands, n_chans) -> (n_windows, n_bands, grid, grid). This is why the
interpolation is written here as a small matrix rather than through MNE's plotting path (``_GridData``,
Clough-Tocher on a triangulation, recomputed per call and private).

Geometry. Electrode positions are MNE's ``standard_1020`` template (:func:`positions_m`). The head frame
is the one the 10-20 system is drawn on: its centre is the centroid of Fpz, T7, Oz and T8, its pole the
normal of the plane through them (the 10-20 circumference), x points to the subject's right (T7 -> T8)
and y to the nose. Each electrode direction is projected azimuthally-equidistantly about the pole (the
projection MNE uses for topomap layouts: radius proportional to the angle from the vertex), scaled so
the lowest electrode of the 10-20 circumference lies on the head circle of radius 1. This is our own
projection rather than ``mne.channels.layout._find_topomap_coords`` (private; and it centres the
sphere at the template's origin, which puts Fp1 outside the head circle and T7 inside); the frame is
fixed by the full template, so coordinates do not depend on which channels a recording has.

Interpolation. Spherical splines (Perrin et al., Electroenceph clin Neurophysiol 72:184-187, 1989;
stiffness m = 4 and 50 Legendre terms as MNE's bad-channel interpolation) on the unit sphere of
directions: every pixel inside the head circle is mapped back to its direction by the
inverse projection and the spline is evaluated there. A constant input gives exactly that constant
(the spline's constant term absorbs it). Pixels outside the head circle are **zero** (their rows of
``W`` are zero): zero is harmless for learned encoders and costs nothing in the matmul, while
:func:`scalp_mask` tells plots which pixels to blank (set them to NaN there).

Image convention: ``map[..., row, col]`` with row 0 the front (nose) and col 0 the subject's left, i.e.
the head seen from above, nose up, as ``matplotlib.pyplot.imshow`` shows it by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from neuronarrator.io.channels import positions_m
from neuronarrator.signal.bands import BANDS_HZ, band_powers
from neuronarrator.signal.interpolate import spline_weights

#: The electrodes on the 10-20 circumference (the line 10 % above nasion, inion and ear points).
_CIRCUMFERENCE = ("Fpz", "Fp1", "Fp2", "F7", "F8", "T7", "T8", "P7", "P8", "O1", "O2", "Oz")
# Ridge on G's diagonal, for numerical safety only (G's diagonal is ~0.015, its condition number ~3e4 for
# the 19 channels). MNE's interpolate_bads uses 1e-5, which smooths: the spline then misses its own
# electrodes by up to 0.24 for unit-variance input; at 1e-8 it reproduces them to ~5e-4.
_REGULARISATION = 1e-8


@lru_cache(maxsize=1)
def _head_frame() -> tuple[np.ndarray, np.ndarray, float]:
    """Centre (3,), rotation (3, 3) with rows x, y, pole, and the polar angle of the head circle."""
    ring = positions_m(("Fpz", "T7", "Oz", "T8"))
    centre = ring.mean(axis=0)
    pole = np.linalg.svd(ring - centre)[2][2]
    pole = pole if pole[2] > 0 else -pole
    x_axis = ring[3] - ring[1]
    x_axis -= (x_axis @ pole) * pole
    x_axis /= np.linalg.norm(x_axis)
    rotation = np.stack([x_axis, np.cross(pole, x_axis), pole])
    directions = _directions(positions_m(_CIRCUMFERENCE), centre, rotation)
    edge_angle = float(np.max(np.arccos(np.clip(directions[:, 2], -1.0, 1.0))))
    return centre, rotation, edge_angle


def _directions(pos_m: np.ndarray, centre: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    local = (pos_m - centre) @ rotation.T
    return local / np.linalg.norm(local, axis=1, keepdims=True)


def _electrode_directions(channel_names: tuple[str, ...]) -> np.ndarray:
    """Unit vectors (n_chans, 3) of the electrodes in the head frame."""
    centre, rotation, _ = _head_frame()
    return _directions(positions_m(tuple(channel_names)), centre, rotation)


def projected_positions(channel_names: Sequence[str]) -> np.ndarray:
    """2-D electrode positions (n_chans, 2): x to the subject's right, y to the nose, head circle r = 1."""
    _, _, edge_angle = _head_frame()
    directions = _electrode_directions(tuple(channel_names))
    radius = np.arccos(np.clip(directions[:, 2], -1.0, 1.0)) / edge_angle
    azimuth = np.arctan2(directions[:, 1], directions[:, 0])
    return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth)], axis=1)


def grid_coordinates(grid_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)``, each shape (grid, grid), in head-circle units (see module)."""
    centres = -1.0 + (np.arange(grid_size) + 0.5) * (2.0 / grid_size)
    x, y = np.meshgrid(centres, centres[::-1])  # row 0 at the front (y = +1)
    return x, y


@lru_cache(maxsize=16)
def scalp_mask(grid_size: int = 32) -> np.ndarray:
    """Boolean (grid, grid): True for pixels whose centre lies inside the head circle (read-only)."""
    x, y = grid_coordinates(grid_size)
    mask = x**2 + y**2 <= 1.0
    mask.setflags(write=False)
    return mask


def _pixel_directions(grid_size: int) -> np.ndarray:
    """Unit vectors (n_inside, 3) of the pixels inside the head circle (inverse projection)."""
    _, _, edge_angle = _head_frame()
    x, y = grid_coordinates(grid_size)
    inside = scalp_mask(grid_size)
    polar = np.hypot(x[inside], y[inside]) * edge_angle
    azimuth = np.arctan2(y[inside], x[inside])
    return np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)


def spline_matrix(targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Spherical-spline interpolation matrix (n_targets, n_sources) between unit vectors, with the small
    ridge that makes a map pass through its electrodes (:func:`~neuronarrator.signal.interpolate.spline_weights`)."""
    return spline_weights(sources, targets, _REGULARISATION)


@lru_cache(maxsize=64)
def interpolation_matrix(channel_names: tuple[str, ...], grid_size: int = 32) -> np.ndarray:
    """Cached ``W`` (grid * grid, n_chans): ``map.ravel() = W @ values``, rows outside the head zero.

    Read-only (it is shared by every caller through the cache).
    """
    if not channel_names:
        raise ValueError("a topomap needs at least one channel")
    inside = scalp_mask(grid_size).ravel()
    weights = np.zeros((grid_size * grid_size, len(channel_names)))
    weights[inside] = spline_matrix(_pixel_directions(grid_size), _electrode_directions(channel_names))
    weights.setflags(write=False)
    return weights


def topomaps(
    values: np.ndarray,
    channel_names: Sequence[str],
    grid_size: int = 32,
    *,
    channel_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Interpolate channel values onto the scalp grid, for any leading batch dimensions at once.

    Parameters
    ----------
    values : array, shape (..., n_chans)
        E.g. (n_chans,), (n_bands, n_chans) or (n_windows, n_bands, n_chans).
    channel_names : sequence of str, length n_chans
        Names with a ``standard_1020`` position.
    grid_size : int
    channel_mask : array of bool, shape (n_chans,), optional
        True for channels to use; masked channels are left out of the interpolation entirely (a
        separate cached matrix for the subset), so a bad channel never leaks into the map.

    Returns
    -------
    maps : array, shape (..., grid_size, grid_size)
        Float32 for float32 input, else float64; zero outside the head circle (:func:`scalp_mask`).
    """
    values = np.asarray(values)
    names = tuple(channel_names)
    if values.shape[-1] != len(names):
        raise ValueError(f"values end in {values.shape[-1]} channels but {len(names)} names were given")
    if channel_mask is not None:
        keep = np.asarray(channel_mask, dtype=bool)
        if keep.shape != (len(names),):
            raise ValueError(f"channel_mask must have shape ({len(names)},), got {keep.shape}")
        names = tuple(name for name, k in zip(names, keep, strict=True) if k)
        values = values[..., keep]
    dtype = np.float32 if values.dtype == np.float32 else np.float64
    weights = interpolation_matrix(names, int(grid_size)).astype(dtype, copy=False)
    maps = np.matmul(values.astype(dtype, copy=False), weights.T)
    return maps.reshape(*values.shape[:-1], grid_size, grid_size)


def band_topomaps(
    data_uv: np.ndarray,
    sfreq_hz: float,
    channel_names: Sequence[str],
    *,
    bands_hz: Mapping[str, tuple[float, float]] = BANDS_HZ,
    grid_size: int = 32,
    channel_mask: np.ndarray | None = None,
    window_s: float = 2.0,
) -> np.ndarray:
    """Maps of ``log10`` band power (log10 µV²), one per band.

    Log power is interpolated (not power) because power is log-normally distributed across the scalp
    and between people; a spline through raw powers overshoots next to one strong channel.

    Parameters
    ----------
    data_uv : array, shape (n_chans, n_times)
    sfreq_hz : float
    channel_names : sequence of str, length n_chans
    bands_hz, window_s
        As in :func:`neuronarrator.signal.bands.band_powers`.
    grid_size : int
    channel_mask : array of bool, shape (n_chans,), optional

    Returns
    -------
    maps : array, shape (n_bands, grid_size, grid_size)
        Zero outside the head circle; a channel with zero power counts as 1e-12 µV².
    """
    power = band_powers(data_uv, sfreq_hz, bands_hz=bands_hz, window_s=window_s)  # (n_chans, n_bands)
    log_power = np.log10(np.maximum(power, 1e-12)).T  # (n_bands, n_chans)
    return topomaps(log_power, channel_names, grid_size, channel_mask=channel_mask)
