"""Dataset labels -> the findings vocabulary (DESIGN.md, "Findings vocabulary").

Each source gets a plain dict (the mapping, with its source cited) and a function that looks a label up,
tolerant of case and surrounding whitespace, raising :class:`FindingsError` naming the label when it is
unknown: a label nobody mapped is a question for a person, not something to guess.

Terms with no code in the vocabulary map to ``None`` on purpose (TUEV background, Sleep-EDF movement time,
SCORE normal variants, breach rhythm): a known "nothing", distinct from an unknown label.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from neuronarrator.clinical.findings import CODES, IMPRESSIONS, SIDES, STATES, FindingsError


class Mapped(NamedTuple):
    """A label read as a finding code with the side (and regions) the label itself implies."""

    code: str
    side: str | None = None
    regions: tuple[str, ...] = ()


# --- TUEV (TUH EEG Events Corpus) -------------------------------------------------------------------------
# Source: TUEV v2.0 documentation and Harati et al., "Improved EEG event classification using differential
# energy", IEEE SPMB 2015: six classes, numbered 1-6 in the .rec label files: (1) SPSW spike and/or sharp
# wave, (2) GPED generalized periodic epileptiform discharge, (3) PLED periodic lateralized epileptiform
# discharge, (4) EYEM eye movement, (5) ARTF artifact, (6) BCKG background.
# ARTF -> muscle_artifact: ARTF pools the non-ocular artifacts, and muscle (EMG) is the most common of them
# in scalp EEG (in the TUH artifact corpus TUAR, "musc" is the largest class after eye movement), with a
# spectral signature (broadband > 20 Hz) that a model learns; electrode pops are rarer and briefer. A
# caller that knows better can override the entry.
TUEV_LABELS: dict[str, str | None] = {
    "spsw": "focal_epileptiform",
    "gped": "gpd",
    "pled": "lpd",
    "eyem": "eye_movement_artifact",
    "artf": "muscle_artifact",
    "bckg": None,
}
TUEV_CLASS_IDS: dict[int, str] = {1: "spsw", 2: "gped", 3: "pled", 4: "eyem", 5: "artf", 6: "bckg"}

# --- TUAB (TUH Abnormal EEG Corpus) -----------------------------------------------------------------------
# Source: Lopez de Diego, "Automated interpretation of abnormal adult EEGs", MS thesis, Temple University
# 2017 (TUAB v2.0): each session sits under normal/ or abnormal/, judged by a neurologist's report.
TUAB_LABELS: dict[str, str] = {
    "normal": "normal",
    "abnormal": "abnormal",
    "norm": "normal",
    "abnm": "abnormal",
}

# --- TUSZ (TUH EEG Seizure Corpus) ------------------------------------------------------------------------
# Source: Shah et al., "The Temple University Hospital Seizure Detection Corpus", Front. Neuroinform. 12:83
# (2018), seizure-type table; TUSZ v2 .csv/.csv_bi label files ("seiz" in the binary files, "bckg" for
# background). Generalized-onset types (GNSZ, ABSZ, TNSZ, CNSZ, TCSZ, ATSZ, MYSZ, grouped as generalized in
# the TUSZ taxonomy) carry side "generalized"; focal types (FNSZ, SPSZ, CPSZ) are focal but their side is
# not in the label (it comes from the channels annotated), so side is None; SEIZ says nothing.
# NESZ (non-epileptic seizure) is not an electrographic seizure: None, like background.
TUSZ_LABELS: dict[str, Mapped | None] = {
    "fnsz": Mapped("seizure"),
    "spsz": Mapped("seizure"),
    "cpsz": Mapped("seizure"),
    "gnsz": Mapped("seizure", "generalized"),
    "absz": Mapped("seizure", "generalized"),
    "tnsz": Mapped("seizure", "generalized"),
    "cnsz": Mapped("seizure", "generalized"),
    "tcsz": Mapped("seizure", "generalized"),
    "atsz": Mapped("seizure", "generalized"),
    "mysz": Mapped("seizure", "generalized"),
    "seiz": Mapped("seizure"),
    "nesz": None,
    "bckg": None,
}

# --- Sleep-EDF (PhysioNet Sleep-EDF Expanded) -------------------------------------------------------------
# Source: Kemp et al., IEEE TBME 47(9) 2000, and the PhysioNet sleep-edfx hypnogram files: annotations
# "Sleep stage W/1/2/3/4/R/?" and "Movement time", scored by Rechtschaffen & Kales. R&K stages 3 and 4
# merge into N3 (AASM Manual 2007, "Scoring of Sleep": stages 3 and 4 are N3); stage 1 is N1 (the
# vocabulary's ``drowsy`` is a clinical EEG description, not an R&K stage). Movement time and unscored
# epochs have no state: None.
SLEEP_EDF_STAGES: dict[str, str | None] = {
    "w": "awake",
    "1": "n1",
    "2": "n2",
    "3": "n3",
    "4": "n3",
    "r": "rem",
    "m": None,
    "?": None,
    # AASM spellings met in other hypnograms (e.g. Sleep-EDF derived sets, MNE examples).
    "n1": "n1",
    "n2": "n2",
    "n3": "n3",
    "rem": "rem",
    "wake": "awake",
    "movement time": None,
    "unscored": None,
}
_SLEEP_EDF_PREFIX = re.compile(r"^sleep\s+stage\s+", re.I)

# --- SCORE / ACNS terms -----------------------------------------------------------------------------------
# Sources: Hirsch et al., "American Clinical Neurophysiology Society's Standardized Critical Care EEG
# Terminology: 2021 Version", J Clin Neurophysiol 38(1) (LPDs/PLEDs, BIPDs/BIPLEDs, GPDs/GPEDs, "triphasic
# waves" = GPDs with triphasic morphology, LRDA, GRDA; FIRDA/OIRDA are GRDA with frontal/occipital
# predominance, TIRDA is temporal LRDA); Beniczky et al., "Standardized Computer-based Organized Reporting
# of EEG: SCORE - Second version", Clin Neurophysiol 128 (2017) (background, slowing, asymmetry, normal
# variants, artifacts). Terms outside the vocabulary map to None: normal variants and physiological
# patterns (breach rhythm: higher amplitude over a skull defect, a consequence of the defect, not a cerebral
# asymmetry; mu, lambda, POSTS, wicket spikes, BETS, 14&6, 6 Hz phantom spike-wave, RMTD, SREDA, photic
# driving, hypnagogic hypersynchrony), and patterns the vocabulary does not code (BIRDs, hypsarrhythmia,
# electrocerebral inactivity, discontinuity, low-voltage record, alpha coma). Generalized codes carry no
# side (the code says it), as in the labeler; a lateralized code's side comes from the annotation's channels.
SCORE_TERMS: dict[str, Mapped | None] = {
    "pdr": Mapped("pdr"),
    "posterior dominant rhythm": Mapped("pdr"),
    "alpha rhythm": Mapped("pdr"),
    "reactivity": Mapped("pdr_reactive"),
    "diffuse slowing": Mapped("generalized_slowing"),
    "generalized slowing": Mapped("generalized_slowing"),
    "background slowing": Mapped("generalized_slowing"),
    "focal slowing": Mapped("focal_slowing"),
    "polymorphic delta activity": Mapped("focal_slowing"),
    "asymmetry": Mapped("asymmetry"),
    "excess beta": Mapped("excess_beta"),
    "excessive beta": Mapped("excess_beta"),
    "burst suppression": Mapped("burst_suppression"),
    "burst-suppression": Mapped("burst_suppression"),
    "spike-and-wave": Mapped("generalized_spike_wave"),
    "spike and wave": Mapped("generalized_spike_wave"),
    "generalized spike-and-wave": Mapped("generalized_spike_wave"),
    "3 hz spike-and-wave": Mapped("generalized_spike_wave"),
    "polyspike": Mapped("generalized_spike_wave"),
    "polyspike-and-wave": Mapped("generalized_spike_wave"),
    "photoparoxysmal response": Mapped("generalized_spike_wave"),
    "spike": Mapped("focal_epileptiform"),
    "spikes": Mapped("focal_epileptiform"),
    "sharp wave": Mapped("focal_epileptiform"),
    "sharp waves": Mapped("focal_epileptiform"),
    "spike/sharp wave": Mapped("focal_epileptiform"),
    "epileptiform discharge": Mapped("focal_epileptiform"),
    "lpd": Mapped("lpd"),
    "lpds": Mapped("lpd"),
    "pled": Mapped("lpd"),
    "pleds": Mapped("lpd"),
    "bipd": Mapped("lpd", "bilateral"),
    "bipds": Mapped("lpd", "bilateral"),
    "bipled": Mapped("lpd", "bilateral"),
    "bipleds": Mapped("lpd", "bilateral"),
    "gpd": Mapped("gpd"),
    "gpds": Mapped("gpd"),
    "gped": Mapped("gpd"),
    "gpeds": Mapped("gpd"),
    "triphasic waves": Mapped("gpd"),
    "lrda": Mapped("lrda"),
    "tirda": Mapped("lrda", None, ("temporal",)),
    "grda": Mapped("grda"),
    "firda": Mapped("grda", None, ("frontal",)),
    "oirda": Mapped("grda", None, ("occipital",)),
    "seizure": Mapped("seizure"),
    "electrographic seizure": Mapped("seizure"),
    "status epilepticus": Mapped("seizure"),
    "sleep spindles": Mapped("sleep_spindles"),
    "spindles": Mapped("sleep_spindles"),
    "vertex waves": Mapped("vertex_waves"),
    "vertex sharp transients": Mapped("vertex_waves"),
    "k complexes": Mapped("k_complexes"),
    "k-complexes": Mapped("k_complexes"),
    "eye blink artifact": Mapped("eye_blink_artifact"),
    "eye movement artifact": Mapped("eye_movement_artifact"),
    "muscle artifact": Mapped("muscle_artifact"),
    "emg artifact": Mapped("muscle_artifact"),
    "electrode artifact": Mapped("electrode_artifact"),
    "electrode pop": Mapped("electrode_artifact"),
    "ecg artifact": Mapped("ecg_artifact"),
    "ekg artifact": Mapped("ecg_artifact"),
    "line noise": Mapped("line_noise"),
    "60 hz artifact": Mapped("line_noise"),
    "50 hz artifact": Mapped("line_noise"),
    **dict.fromkeys(
        ["breach rhythm", "mu rhythm", "lambda waves", "posts", "wicket spikes", "bets",
         "benign sporadic sleep spikes", "14 and 6 positive spikes", "6 hz phantom spike-and-wave", "rmtd",
         "sreda", "photic driving", "hypnagogic hypersynchrony", "birds", "hypsarrhythmia",
         "electrocerebral inactivity", "discontinuity", "low-voltage record", "alpha coma"],
        None,
    ),
}  # fmt: skip


def _key(label: str | int) -> str:
    return re.sub(r"\s+", " ", str(label).strip().lower())


def from_tuev(label: str | int) -> str | None:
    """Code of a TUEV event label (``"SPSW"``, ``"spsw"``) or class id (``1``-``6``, int or digit string);
    None for background."""
    key = _key(label)
    if key.isdigit():
        if int(key) not in TUEV_CLASS_IDS:
            raise FindingsError(f"unknown TUEV class id {label!r}; known: 1-6")
        key = TUEV_CLASS_IDS[int(key)]
    if key not in TUEV_LABELS:
        raise FindingsError(
            f"unknown TUEV label {label!r}; known: {', '.join(k.upper() for k in TUEV_LABELS)}"
        )
    return TUEV_LABELS[key]


def from_tuab(label: str) -> str:
    """Impression (``normal``/``abnormal``) of a TUAB label or folder name."""
    key = _key(label)
    if key not in TUAB_LABELS:
        raise FindingsError(f"unknown TUAB label {label!r}; known: normal, abnormal")
    return TUAB_LABELS[key]


def from_tusz(label: str) -> Mapped | None:
    """Seizure finding (with the side the type implies) of a TUSZ label; None for background and NESZ."""
    key = _key(label)
    if key not in TUSZ_LABELS:
        raise FindingsError(
            f"unknown TUSZ label {label!r}; known: {', '.join(k.upper() for k in TUSZ_LABELS)}"
        )
    return TUSZ_LABELS[key]


def from_sleep_edf(label: str) -> str | None:
    """State of a Sleep-EDF hypnogram label (``"Sleep stage 3"``, ``"3"``, ``"W"``, ``"Movement time"``);
    None for movement time and unscored epochs. R&K stages 3 and 4 are both N3 (AASM)."""
    key = _SLEEP_EDF_PREFIX.sub("", _key(label))
    if key not in SLEEP_EDF_STAGES:
        raise FindingsError(f"unknown Sleep-EDF stage {label!r}; known: W, 1, 2, 3, 4, R, M, ?")
    return SLEEP_EDF_STAGES[key]


def from_score(term: str) -> Mapped | None:
    """Finding of a SCORE/ACNS term (``"PLEDs"``, ``"FIRDA"``, ``"triphasic waves"``); None for a known
    term outside the vocabulary (``"breach rhythm"``, normal variants)."""
    key = _key(term)
    if key not in SCORE_TERMS:
        raise FindingsError(f"unknown SCORE/ACNS term {term!r}")
    return SCORE_TERMS[key]


def _check_tables() -> None:
    # The tables must speak the vocabulary; checked at import so a typo fails loudly and early.
    codes = [v for v in TUEV_LABELS.values() if v] + [m.code for m in SCORE_TERMS.values() if m]
    codes += [m.code for m in TUSZ_LABELS.values() if m]
    bad = sorted(set(codes) - set(CODES))
    sides = {m.side for m in [*SCORE_TERMS.values(), *TUSZ_LABELS.values()] if m and m.side} - set(SIDES)
    states = {s for s in SLEEP_EDF_STAGES.values() if s} - set(STATES)
    if bad or sides or states or set(TUAB_LABELS.values()) - set(IMPRESSIONS):
        raise FindingsError(f"mapping tables outside the vocabulary: {bad} {sides} {states}")


_check_tables()
