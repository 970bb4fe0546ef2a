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
    n = np.arange(1, N_LEGENDRE_TERMS + 1)
    factors = (2 * n + 1) / (n**STIFFNESS * (n + 1) ** STIFFNESS * 4 * np.pi)
    return legval(cosang, np.concatenate([[0.0], factors]))


@lru_cache(maxsize=64)
def spherical_spline_matrix(sources: tuple[str, ...], targets: tuple[str, ...]) -> np.ndarray:
    """Matrix ``W`` with ``targets_uv = W @ sources_uv``.

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
    g_from = _legendre_g(np.clip(pos_from @ pos_from.T, -1, 1))
    g_to_from = _legendre_g(np.clip(pos_to @ pos_from.T, -1, 1))
    g_from.flat[:: len(g_from) + 1] += ALPHA
    n_from = len(sources)
    system = np.block([[g_from, np.ones((n_from, 1))], [np.ones((1, n_from)), np.zeros((1, 1))]])
    weights = np.hstack([g_to_from, np.ones((len(targets), 1))]) @ np.linalg.pinv(system)[:, :-1]
    weights.setflags(write=False)
    return weights
