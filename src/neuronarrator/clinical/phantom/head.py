"""The head model of the phantom: electrode sites, distances, scalp fields of sources, regions.

Every generator writes scalp potentials at 21 sites: the 19 electrodes of the harmonized contract plus
the two ear electrodes A1/A2, because the phantom is recorded against linked ears (the reference of
most analogue-era clinical EEG and of TUH's ``-LE`` files) and the ears are not silent: temporal
activity, the PDR and the ECG reach them, which is exactly why an average reference is worth computing.

Positions are MNE's ``standard_1020`` template (head frame, metres), the same template the rest of the
project uses (:func:`neuronarrator.io.channels.positions_m`). Fields are Gaussian in the straight-line
(chord) distance between sites: a compact stand-in for the blurring of a cortical patch's potential by
skull and scalp (Nunez & Srinivasan, *Electric Fields of the Brain*, 2nd ed. 2006, ch. 6-8: the scalp
field of a ~cm² cortical source spreads over ~5-10 cm). The eyes are the one source with an explicit
dipole model (the corneo-retinal dipole, cornea positive; Lins et al. 1993, Psychophysiology 30:51-60).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from neuronarrator.io.channels import CANONICAL_19, positions_m

#: The 21 model sites: the 19 recorded electrodes, then the two ear electrodes of the reference.
SITES: tuple[str, ...] = (*CANONICAL_19, "A1", "A2")
N_SCALP = len(CANONICAL_19)
EARS = (SITES.index("A1"), SITES.index("A2"))
INDEX = {name: i for i, name in enumerate(SITES)}

#: Electrodes that make up a region on each side (the usual 10-20 groupings of clinical reports;
#: F7 is "anterior temporal" and counted in both frontal and temporal, P7 in temporal and parietal).
REGION_ELECTRODES: dict[str, dict[str, tuple[str, ...]]] = {
    "left": {
        "frontal": ("Fp1", "F3", "F7"), "central": ("C3",), "temporal": ("F7", "T7", "P7"),
        "parietal": ("P3", "P7"), "occipital": ("O1",),
    },
    "right": {
        "frontal": ("Fp2", "F4", "F8"), "central": ("C4",), "temporal": ("F8", "T8", "P8"),
        "parietal": ("P4", "P8"), "occipital": ("O2",),
    },
    "midline": {
        "frontal": ("Fz",), "central": ("Cz",), "temporal": ("Cz",), "parietal": ("Pz",), "occipital": ("Pz",),
    },
}  # fmt: skip

#: The electrode at the centre of each region (its maximum when a finding is "left temporal").
REGION_FOCUS: dict[str, dict[str, str]] = {
    "left": {"frontal": "F3", "central": "C3", "temporal": "T7", "parietal": "P3", "occipital": "O1"},
    "right": {"frontal": "F4", "central": "C4", "temporal": "T8", "parietal": "P4", "occipital": "O2"},
    "midline": {"frontal": "Fz", "central": "Cz", "temporal": "Cz", "parietal": "Pz", "occipital": "Pz"},
}

#: Eye centres in the head frame (m): ~3.2 cm either side of the midline, ~1 cm below and ~2.5 cm
#: behind the nasion (MNE template nasion at (0.1, 8.5, -3.5) cm; adult interpupillary distance
#: 6.3 cm, eyeball radius 1.2 cm).
EYE_CENTRES_M = np.array([[-0.032, 0.062, -0.045], [0.032, 0.062, -0.045]])


@lru_cache(maxsize=1)
def site_positions_m() -> np.ndarray:
    """Positions (21, 3) in metres of :data:`SITES` (MNE ``standard_1020``, head frame)."""
    with warnings.catch_warnings():  # MNE >= 1.13 renames standard_1020 to colin27_1020: same positions
        warnings.simplefilter("ignore", FutureWarning)
        return np.asarray(positions_m(SITES), dtype=np.float64)


@lru_cache(maxsize=1)
def distances_m() -> np.ndarray:
    """Chord distances (21, 21) in metres between the sites."""
    pos = site_positions_m()
    return np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)


def gaussian_field(centre: str | np.ndarray, sigma_m: float) -> np.ndarray:
    """Scalp field (21,) of a patch source: ``exp(-d² / 2σ²)`` of the distance to ``centre``.

    Parameters
    ----------
    centre : str or array, shape (3,)
        A site name (the field is 1 there) or a point in the head frame (m).
    sigma_m : float
        Spatial spread; 3 cm gives a spike whose neighbours (6-7 cm away) see ~10 % of it, 9 cm a
        field that covers a hemisphere.

    Returns
    -------
    weights : array, shape (21,)
    """
    pos = site_positions_m()
    point = pos[INDEX[centre]] if isinstance(centre, str) else np.asarray(centre, dtype=np.float64)
    d2 = ((pos - point) ** 2).sum(axis=1)
    return np.exp(-d2 / (2.0 * sigma_m**2))


def gaussian_fields(centre: str, sigma_m: np.ndarray) -> np.ndarray:
    """Fields (21, n) of one centre with a time-varying spread ``sigma_m`` (n,): a spreading seizure."""
    d2 = distances_m()[INDEX[centre]] ** 2
    return np.exp(-d2[:, None] / (2.0 * np.asarray(sigma_m)[None, :] ** 2))


def region_centre(side: str, regions: tuple[str, ...]) -> str:
    """The electrode at the centre of ``regions`` on ``side``: the requested maximum of a focal finding.

    One region gives its :data:`REGION_FOCUS` electrode; several give the electrode closest to the mean
    of their foci (left frontal + temporal -> F7). ``bilateral`` uses the left side (callers mirror it);
    no region means temporal, the commonest location of focal abnormalities in adults (Ebersole &
    Pedley, *Current Practice of Clinical Electroencephalography*, 4th ed. 2014, ch. 11).
    """
    side = "left" if side == "bilateral" else side
    foci = [REGION_FOCUS[side][region] for region in (regions or ("temporal",))]
    if len(set(foci)) == 1:
        return foci[0]
    pos = site_positions_m()
    mean = pos[[INDEX[ch] for ch in foci]].mean(axis=0)
    allowed = [i for i in range(N_SCALP) if side != "midline" or SITES[i].endswith("z")]
    return SITES[min(allowed, key=lambda i: float(np.sum((pos[i] - mean) ** 2)))]


def mirror(channel: str) -> str:
    """The homologous electrode on the other side (Fp1 <-> Fp2, T7 <-> T8); midline sites map to themselves."""
    if channel.endswith("z"):
        return channel
    digit = int(channel[-1])
    return channel[:-1] + str(digit + 1 if digit % 2 else digit - 1)


def channels_over(weights: np.ndarray, fraction: float = 0.5) -> tuple[str, ...]:
    """Recorded electrodes (in canonical order) where ``|weights|`` reaches ``fraction`` of its maximum."""
    w = np.abs(np.asarray(weights, dtype=np.float64)[:N_SCALP])
    peak = w.max()
    if peak <= 0:
        return ()
    return tuple(SITES[i] for i in np.flatnonzero(w >= fraction * peak))


def hemisphere_gain(side: str, gain: float, width_m: float = 0.015) -> np.ndarray:
    """Per-site gain (21,): ``gain`` over ``side``, 1 over the other, a smooth step across the midline."""
    x = site_positions_m()[:, 0]
    towards = -x if side == "left" else x
    return 1.0 - (1.0 - gain) / (1.0 + np.exp(-towards / width_m))


def eye_dipole_fields() -> np.ndarray:
    """Potentials (3, 21) at the sites per unit rotation of both eyes' corneo-retinal dipoles.

    Rows: a rotation that moves the corneas right (+x), forward (+y) and up (+z). Each eye is a current
    dipole at its centre, cornea positive; in an infinite homogeneous medium its potential is
    ``p · r / |r|³``. Rows are scaled so that the upward row is 1 at the mean of Fp1 and Fp2. This puts
    a blink (upward rotation, Bell's phenomenon, plus the lid sliding over the cornea) at
    Fp1/Fp2 >> F3/F4 (~30 %) > Cz (~13 %) > O1/O2 (~4 %), close to the propagation factors measured by
    Lins et al. (1993), and a leftward gaze positive at F7 and negative at F8.
    """
    pos = site_positions_m()
    fields = np.zeros((3, len(SITES)))
    for centre in EYE_CENTRES_M:
        r = pos - centre
        fields += (r / (np.linalg.norm(r, axis=1, keepdims=True) ** 3)).T
    fp = 0.5 * (fields[2, INDEX["Fp1"]] + fields[2, INDEX["Fp2"]])
    return fields / fp


@lru_cache(maxsize=1)
def eye_fields() -> tuple[np.ndarray, np.ndarray]:
    """Unit eye-movement fields (21,) each: ``vertical`` (eyes up; 1 at mean Fp1/Fp2) and ``horizontal``
    (eyes to the right; +1 at F8, about -1 at F7): see :func:`eye_dipole_fields`."""
    fields = eye_dipole_fields()
    return fields[2], fields[0] / fields[0, INDEX["F8"]]
