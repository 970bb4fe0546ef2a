"""Spherical-spline interpolation of scalp potentials (Perrin et al. 1989), as a matrix.

The same spline as MNE's ``interpolate_bads`` (stiffness m = 4, 50 Legendre terms, regularisation
1e-5, a constant term so that any common reference passes through unchanged), written out here so that
it works on plain arrays, is computed once per channel set, and applies at any sampling rate: the
interpolation is a fixed linear combination of channels, so it commutes with every temporal filter.
Positions are MNE's template 10-20 montage (``standard_1020``, named ``colin27_1020`` since MNE 1.13;
:func:`neuronarrator.io.channels.positions_m`), projected on the sphere that fits the 19 canonical
electrodes best.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.legendre import legval

from neuronarrator.io.channels import CANONICAL_19, positions_m

#: Spline stiffness m = 4 (Perrin et al. 1989) and the Legendre series length MNE uses.
STIFFNESS = 4
N_LEGENDRE_TERMS = 50
#: Tikhonov regularisation on the diagonal (MNE's default); keeps the system well posed for close pairs.
ALPHA = 1e-5


@lru_cache(maxsize=1)
def head_origin_m() -> np.ndarray:
    """Centre (3,) in metres of the least-squares sphere through the 19 canonical electrodes.

    |p|² = 2 p·c + (r² - |c|²) is linear in the centre c and the constant, so one lstsq solves it.
    """
    pos = positions_m(CANONICAL_19)
    design = np.hstack([2 * pos, np.ones((len(pos), 1))])
    solution, *_ = np.linalg.lstsq(design, (pos**2).sum(axis=1), rcond=None)
    origin = solution[:3].copy()
    origin.setflags(write=False)  # cached: shared by every caller
    return origin


def _legendre_g(cosang: np.ndarray) -> np.ndarray:
    """Perrin's g(cos) = 1/(4 pi) sum_n (2n+1) / (n(n+1))^m P_n(cos)."""
    n = np.arange(1, N_LEGENDRE_TERMS + 1)
    factors = (2 * n + 1) / (n**STIFFNESS * (n + 1) ** STIFFNESS * 4 * np.pi)
    return legval(np.clip(cosang, -1.0, 1.0), np.concatenate([[0.0], factors]))


def spline_weights(source_dirs: np.ndarray, target_dirs: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Spherical-spline map between unit vectors: ``values_at_targets = W @ values_at_sources``.

    Solves ``[[G + alpha I, 1], [1^T, 0]] [c; c0] = [v; 0]`` for the spline weights ``c`` and the constant
    ``c0`` and evaluates ``g(targets . sources) c + c0``; ``W`` is that map from ``v``.

    Parameters
    ----------
    source_dirs : ndarray, shape (n_sources, 3)
        Unit vectors from the sphere's centre to the measured points.
    target_dirs : ndarray, shape (n_targets, 3)
    alpha : float
        Ridge on G's diagonal: MNE's 1e-5 smooths (good for noisy electrodes); topomaps use ~1e-8 so
        that the map passes through the electrodes' own values.

    Returns
    -------
    ndarray, shape (n_targets, n_sources)
        Rows sum to 1: a constant (any common reference) is reproduced exactly.
    """
    n_from = source_dirs.shape[0]
    g_from = _legendre_g(source_dirs @ source_dirs.T)
    g_from.flat[:: n_from + 1] += alpha
    system = np.block([[g_from, np.ones((n_from, 1))], [np.ones((1, n_from)), np.zeros((1, 1))]])
    evaluate = np.hstack([_legendre_g(target_dirs @ source_dirs.T), np.ones((target_dirs.shape[0], 1))])
    return evaluate @ np.linalg.pinv(system)[:, :-1]


# 2048: the training augmentation (models/augment.py) draws 1-3 of 19 electrodes, 1,159 subsets of a full
# head; each matrix is at most 3 x 18 floats, and one takes ~3 ms to compute.
@lru_cache(maxsize=2048)
def spherical_spline_matrix(sources: tuple[str, ...], targets: tuple[str, ...]) -> np.ndarray:
    """Matrix ``W`` with ``targets_uv = W @ sources_uv``, between named electrodes.

    Parameters
    ----------
    sources : tuple of str
        Canonical names of the good electrodes (at least 3), rows of the data interpolated from.
    targets : tuple of str
        Canonical names of the electrodes to estimate.

    Returns
    -------
    ndarray, shape (n_targets, n_sources), float64
        Each row sums to 1 (a constant offset, i.e. any common reference, is reproduced exactly).
        Read-only (cached).
    """
    if len(sources) < 3:
        raise ValueError(f"spherical splines need at least 3 source electrodes, got {len(sources)}")
    origin = head_origin_m()
    pos_from = positions_m(sources) - origin
    pos_to = positions_m(targets) - origin
    pos_from /= np.linalg.norm(pos_from, axis=1, keepdims=True)
    pos_to /= np.linalg.norm(pos_to, axis=1, keepdims=True)
    weights = spline_weights(pos_from, pos_to, ALPHA)
    weights.setflags(write=False)
    return weights
