"""Channel names: the canonical 10-20 set, label canonicalization, channel kinds, bipolar montages.

Clinical files label the same electrode in many ways: TUH writes ``EEG FP1-REF`` or ``EEG T3-LE``,
Nihon Kohden exports ``FP1`` or ``Fp1-Ref``, EEGMMI writes ``Fp1.`` and ``Fc5.``, older systems use
T3/T4/T5/T6 where the modified combinatorial nomenclature says T7/T8/P7/P8. MNE reads the labels but
does not unify them (its ``rename_channels`` needs the mapping), so the mapping is written here, once,
as pure functions on strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: The harmonized channel order (DESIGN.md, "Data contracts").
CANONICAL_19: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
    "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip

#: The 18-derivation longitudinal bipolar ("double banana") montage, as (anode, cathode) pairs.
DOUBLE_BANANA: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)  # fmt: skip

#: Display names of the bipolar derivations, e.g. ``"Fp1-F7"``.
DOUBLE_BANANA_NAMES: tuple[str, ...] = tuple(f"{a}-{c}" for a, c in DOUBLE_BANANA)

#: Old (10-20 1958) temporal/parietal names to the modified combinatorial ones.
OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

#: Electrodes of the extended 10-10 system we recognise as EEG (kept as EEG but outside the 19).
_TEN_TEN = (
    "Fpz AF7 AF3 AFz AF4 AF8 F9 F5 F1 F2 F6 F10 FT9 FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8 FT10 "
    "T9 C5 C1 C2 C6 T10 TP9 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 TP10 P9 P5 P1 P2 P6 P10 "
    "PO9 PO7 PO3 POz PO4 PO8 PO10 O9 Oz O10 Iz I1 I2 A1 A2 M1 M2 T1 T2 Nz"
).split()

_CANONICAL_BY_UPPER = {name.upper(): name for name in CANONICAL_19}
_CANONICAL_BY_UPPER.update({old.upper(): new for old, new in OLD_TO_NEW.items()})
_TEN_TEN_BY_UPPER = {name.upper(): name for name in _TEN_TEN}

# Non-EEG channel kinds, recognised by a word in the label. Order matters: first match wins.
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ecg", re.compile(r"\b(ECG|EKG)", re.I)),
    ("eog", re.compile(r"\b(EOG|LOC|ROC|HEOG|VEOG)\b|^E[12]$|\bEYE", re.I)),
    ("emg", re.compile(r"\b(EMG|CHIN|LEG|SUBMENTAL)", re.I)),
    ("resp", re.compile(r"\b(RESP|RESPIRATION|THOR|ABD|AIRFLOW|FLOW|NASAL|PNEUMO)", re.I)),
    ("spo2", re.compile(r"\b(SPO2|SAO2|SP02|OXIM|PULSE|PLETH)", re.I)),
    ("photic", re.compile(r"\b(PHOTIC|PHOT|IBI|BURSTS|SUPPR)", re.I)),
    ("temp", re.compile(r"\b(TEMP)", re.I)),
    ("dc", re.compile(r"^(EEG\s+)?DC\d*|\bDC\d+\b", re.I)),
    ("event", re.compile(r"\b(EDF ANNOTATIONS|STATUS|TRIGGER|EVENT|MARKER|STI\d*)\b", re.I)),
)

# A label is prefixed with its type in TUH ("EEG FP1-REF") and in EDF's transducer convention.
_TYPE_PREFIX = re.compile(r"^(EEG|SEEG|POL|EXG)[\s_:]+", re.I)
# Reference suffixes: -REF, -LE (linked ears), -AR (average), -AVG, -A1/-A2/-M1/-M2, -CZ? no: that is bipolar.
_REF_SUFFIX = re.compile(r"[-_ ](REF|LE|AR|AVG|AV|CAR|REF\d*|A1A2|M1M2|LINKED|A1|A2|M1|M2)$", re.I)


@dataclass(frozen=True)
class ChannelLabel:
    """How one label in a file was understood.

    ``kind`` is ``"eeg"`` for a referential EEG electrode, ``"bipolar"`` for a derivation between two
    10-20 electrodes, one of the non-EEG kinds (``ecg eog emg resp spo2 photic temp dc event``), or
    ``"other"``. ``canonical`` is the 10-20/10-10 name (``"T7"``) for an EEG electrode, the derivation
    name (``"Fp1-F7"``) for a bipolar one, else ``None``.
    """

    original: str
    kind: str
    canonical: str | None

    @property
    def in_canonical_19(self) -> bool:
        return self.kind == "eeg" and self.canonical in CANONICAL_19


def _electrode_name(token: str) -> str | None:
    """Canonical electrode name of one bare token (``"FP1"`` → ``"Fp1"``, ``"T3"`` → ``"T7"``)."""
    key = token.strip().strip(".").replace(" ", "").upper()
    if key in _CANONICAL_BY_UPPER:
        return _CANONICAL_BY_UPPER[key]
    if key in _TEN_TEN_BY_UPPER:
        return _TEN_TEN_BY_UPPER[key]
    return None


def canonical_label(label: str) -> ChannelLabel:
    """Classify one channel label and give its canonical name.

    Examples
    --------
    >>> canonical_label("EEG FP1-REF").canonical
    'Fp1'
    >>> canonical_label("EEG T3-LE").canonical
    'T7'
    >>> canonical_label("Fc5.").canonical
    'FC5'
    >>> canonical_label("FP1-F7").kind
    'bipolar'
    """
    original = label
    text = label.strip().rstrip(".").strip()
    # MNE renames repeated labels "T8-P8" -> "T8-P8-0", "T8-P8-1" and "FP1" -> "FP1-0": undo that suffix.
    text = re.sub(r"(?<=[A-Za-z0-9])-\d$", "", text) if re.search(r"[A-Za-z]\d*-\d$", text) else text
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return ChannelLabel(original, kind, None)
    bare = _TYPE_PREFIX.sub("", text).strip()
    bare = _REF_SUFFIX.sub("", bare).strip()
    name = _electrode_name(bare)
    if name is not None:
        return ChannelLabel(original, "eeg", name)
    parts = re.split(r"\s*-\s*", bare)
    if len(parts) == 2:
        anode, cathode = (_electrode_name(p) for p in parts)
        if anode is not None and cathode is not None:
            return ChannelLabel(original, "bipolar", f"{anode}-{cathode}")
    return ChannelLabel(original, "other", None)


def classify_channels(labels: list[str] | tuple[str, ...]) -> list[ChannelLabel]:
    """:func:`canonical_label` for every label; a second label mapping to a name already taken is
    demoted to ``"other"`` (first one wins), so the mapping is one-to-one."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for label in labels:
        parsed = canonical_label(label)
        key = (parsed.kind, parsed.canonical)
        if parsed.canonical is not None and key in seen:
            parsed = ChannelLabel(label, "other", None)
        seen.add(key)
        out.append(parsed)
    return out


def is_bipolar_only(parsed: list[ChannelLabel]) -> bool:
    """True when the file carries bipolar derivations and no referential 10-20 electrode."""
    has_bipolar = any(p.kind == "bipolar" for p in parsed)
    has_referential = any(p.in_canonical_19 for p in parsed)
    return has_bipolar and not has_referential


def bipolar_matrix(channels: tuple[str, ...] = CANONICAL_19) -> np.ndarray:
    """Matrix ``M`` (18, n_chans) with ``bipolar = M @ referential`` for the double banana."""
    index = {name: i for i, name in enumerate(channels)}
    matrix = np.zeros((len(DOUBLE_BANANA), len(channels)), dtype=np.float32)
    for row, (anode, cathode) in enumerate(DOUBLE_BANANA):
        matrix[row, index[anode]] = 1.0
        matrix[row, index[cathode]] = -1.0
    return matrix


def double_banana(
    data_uv: np.ndarray, channel_mask: np.ndarray, montage: str
) -> tuple[np.ndarray, np.ndarray]:
    """A session's 18 double-banana derivations (18, n_times) float64 µV and which of them hold data (18,)
    bool, from its 19 harmonized rows in either montage (the figures and CLEF's session tokens read it).

    Referential: ``bipolar_matrix() @ data``, a derivation present when both its electrodes are. Bipolar:
    rows 0-17 as they are. Missing derivations are returned as zeros.
    """
    data = np.asarray(data_uv)
    mask = np.asarray(channel_mask, bool)
    if montage == "referential":
        if data.shape[0] != len(CANONICAL_19):
            raise ValueError(f"a referential session has {len(CANONICAL_19)} rows, got {data.shape[0]}")
        index = {name: i for i, name in enumerate(CANONICAL_19)}
        present = np.array([mask[index[a]] and mask[index[c]] for a, c in DOUBLE_BANANA], bool)
        rows = bipolar_matrix().astype(np.float64) @ np.where(mask[:, None], data, 0.0).astype(np.float64)
    elif montage == "bipolar":
        n = len(DOUBLE_BANANA)
        if data.shape[0] < n:
            raise ValueError(f"a bipolar session has at least {n} rows, got {data.shape[0]}")
        present = mask[:n].copy()
        rows = data[:n].astype(np.float64)
    else:
        raise ValueError(f"montage must be 'referential' or 'bipolar', got {montage!r}")
    rows = np.where(present[:, None] & np.isfinite(rows), rows, 0.0)
    return rows, present


@lru_cache(maxsize=1)
def standard_montage():
    """MNE's template 10-20 montage: ``colin27_1020`` (MNE ≥ 1.13 renamed ``standard_1020`` to it,
    same positions), or ``standard_1020`` on older MNE."""
    import mne

    name = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"
    return mne.channels.make_standard_montage(name)


def has_position(name: str) -> bool:
    """True when the template montage has a position for this canonical electrode name."""
    return name in standard_montage().ch_names


@lru_cache(maxsize=16)
def positions_m(channels: tuple[str, ...] = CANONICAL_19) -> np.ndarray:
    """3-D head positions (n_chans, 3) in metres from MNE's template 10-20 montage (head frame)."""
    pos = standard_montage().get_positions()["ch_pos"]
    missing = [ch for ch in channels if ch not in pos]
    if missing:
        raise KeyError(f"no template 10-20 position for {missing}")
    out = np.array([pos[ch] for ch in channels], dtype=np.float64)
    out.setflags(write=False)
    return out
