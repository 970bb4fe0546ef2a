"""Background, state and the rest of the description: PDR, sleep, transients, artifacts, absence."""

from __future__ import annotations

# --- Background ----------------------------------------------------------------------------------------
PDR_SENTENCES = (
    "The posterior dominant rhythm {is} a {qual}{hz} Hz {band}rhythm{amp}{react}.",
    "During wakefulness, there {is} a {qual}{hz} Hz posterior dominant rhythm{amp}{react}.",
    "A {hz} Hz posterior dominant {band}rhythm {is} present{react}.",
    "The waking background contains a {qual}posterior dominant rhythm of {hz} Hz{amp}{react}.",
    "The posterior background rhythm {is} {hz} Hz{react}.",
    "The PDR {is} {hz} Hz{amp}{react}.",
    "The best-developed posterior dominant rhythm reaches {hz} Hz{react}.",
    "Posterior dominant rhythm: {hz} Hz{amp}{react}.",
    "The background {is} {organized}, with a posterior dominant rhythm of {hz} Hz{react}.",
)
PDR_QUALITIES = ("well-formed, ", "well-organized, ", "well-modulated, ", "")
PDR_ORGANIZED = ("well organized", "normally organized", "well developed")
PDR_REACT_CLAUSES = (
    ", attenuating with eye opening",
    ", which attenuates with eye opening",
    ", reactive to eye opening",
    ", with normal attenuation on eye opening",
    ", blocking with eye opening",
)
PDR_REACT_SENTENCES = (
    "It attenuates with eye opening.",
    "The rhythm {is} reactive to eye opening.",
    "Eye opening produces attenuation of the posterior dominant rhythm.",
    "Reactivity to eye opening {is} present.",
)
#: Reactivity stated with a hedge (always as a sentence of its own, so that the hedge reaches only it).
PDR_REACT_HEDGED: dict[str, tuple[str, ...]] = {
    "probable": ("It probably attenuates with eye opening.", "The rhythm likely attenuates with eye opening.",
                 "The rhythm probably attenuates with eye opening."),
    "possible": ("It possibly attenuates with eye opening.", "The rhythm possibly attenuates with eye opening."),
}  # fmt: skip
#: Said where no PDR is described, by dominant state (sleep: only where wakefulness was not recorded).
PDR_ABSENT: dict[str, tuple[str, ...]] = {
    "awake": (
        "No posterior dominant rhythm {is} seen.",
        "There {is} no discernible posterior dominant rhythm.",
        "A posterior dominant rhythm {is} not identified.",
        "The background lacks a posterior dominant rhythm.",
    ),
    "sleep": (
        "Wakefulness was not recorded, so the posterior dominant rhythm could not be assessed.",
        "No waking background was captured.",
        "As the patient remained asleep, no posterior dominant rhythm was recorded.",
    ),
    "unresponsive": (
        "There {is} no posterior dominant rhythm.",
        "No posterior dominant rhythm {is} present.",
    ),
}

# --- State and sleep ----------------------------------------------------------------------------------
#: Nouns of the states; the sleep stages always carry their stage name.
STATE_NOUNS: dict[str, tuple[str, ...]] = {
    "awake": ("wakefulness",),
    "drowsy": ("drowsiness",),
    "n1": ("stage N1 sleep", "N1 sleep", "light (N1) sleep"),
    "n2": ("stage N2 sleep", "N2 sleep", "stage 2 sleep"),
    "n3": ("stage N3 sleep", "slow-wave (N3) sleep", "N3 sleep"),
    "rem": ("REM sleep", "rapid eye movement (REM) sleep"),
}
#: The dominant-state sentence; {others} adds the other states recorded (or is empty).
STATE_SENTENCES: dict[str, tuple[str, ...]] = {
    "awake": (
        "The recording {is} obtained predominantly in the awake state{others}.",
        "The patient {is} awake for most of the recording{others}.",
        "This {is} an awake recording{others}.",
        "The record {is} mainly in wakefulness{others}.",
    ),
    "drowsy": (
        "The patient {is} predominantly drowsy{others}.",
        "The recording {is} obtained mostly in drowsiness{others}.",
        "Drowsiness {predominates} throughout most of the recording{others}.",
    ),
    "sleep": (
        "The patient {is} asleep for most of the recording, predominantly in {noun}{others}.",
        "The recording {consists} mainly of {noun}{others}.",
        "{noun} {predominates}{others}.",
        "Most of the recording {is} in {noun}{others}.",
    ),
}
STATE_OTHERS = (", with {brief}{list}", ", with {list} also recorded", "; {list} {be} also recorded")
STATE_BRIEF = ("brief periods of ", "some ", "")
#: Sleep transients, named without side or region.
TRANSIENT_NOUNS: dict[str, tuple[str, ...]] = {
    "sleep_spindles": ("sleep spindles", "spindles", "normal sleep spindles"),
    "vertex_waves": ("vertex waves", "vertex sharp transients", "vertex waves"),
    "k_complexes": ("K-complexes", "K complexes"),
}
TRANSIENT_SENTENCES = (
    "During {ctx}, {list} {are} seen.",
    "{list} {are} seen during {ctx}.",
    "{ctx} {is} marked by {list}.",
    "{ctx} contains {list}.",
    "Normal sleep transients, including {list}, {are} present.",
)

# --- Artifacts and statements of absence --------------------------------------------------------------
ARTIFACT_NOUNS: dict[str, tuple[str, ...]] = {
    "eye_blink_artifact": ("eye blink artifact", "blink artifact"),
    "eye_movement_artifact": ("eye movement artifact", "lateral eye movement artifact"),
    "muscle_artifact": ("muscle artifact", "myogenic artifact", "EMG artifact"),
    "electrode_artifact": ("electrode artifact", "electrode pop artifact", "electrode pop"),
    "ecg_artifact": ("ECG artifact", "EKG artifact", "cardiac artifact"),
    "line_noise": ("line noise", "{hz} Hz line noise", "mains interference"),
}
ARTIFACT_SENTENCES = (
    "{list} {be} noted.",
    "Artifacts include {list}.",
    "There {be} intermittent {list}.",
    "{list} {be} seen at times.",
    "The recording contains {list}.",
)
#: Statements of absence, each with the codes whose presence forbids it.
ABSENCE: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "epileptiform": (
        frozenset({"generalized_spike_wave", "focal_epileptiform", "lpd", "gpd", "seizure"}),
        ("No epileptiform discharges {are} seen.", "There {are} no epileptiform abnormalities.",
         "No interictal epileptiform discharges {are} recorded.", "Epileptiform discharges {are} not seen."),
    ),
    "seizure": (
        frozenset({"seizure"}),
        ("No electrographic seizures {are} recorded.", "No seizures {are} captured.",
         "There {are} no electrographic seizures."),
    ),
    "slowing": (
        frozenset({"focal_slowing", "generalized_slowing", "lrda", "grda", "burst_suppression"}),
        ("There {is} no focal or generalized slowing.", "No focal or diffuse slowing {is} seen.",
         "Slowing {is} not seen."),
    ),
    "focal": (
        frozenset({"focal_slowing", "focal_epileptiform", "asymmetry", "lpd", "lrda", "seizure"}),
        ("There {are} no focal abnormalities.", "No focal or lateralizing features {are} seen.",
         "The background {is} symmetric."),
    ),
}  # fmt: skip
