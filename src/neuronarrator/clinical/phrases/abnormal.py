"""Abnormal findings: certainty frames and hedges, noun phrases, whole sentences, seizures."""

from __future__ import annotations

# --- Certainty ------------------------------------------------------------------------------------------
#: Sentence frames stating a noun phrase with its certainty class: {np} is the bare noun phrase, {hnp} the
#: noun phrase with its hedge (``possible left temporal slowing``, ``a probable burst-suppression pattern``).
FRAMES: dict[str, tuple[str, ...]] = {
    "definite": (
        "{np} {be} seen.",
        "There {be} {np}.",
        "{np} {be} present.",
        "{np} {be} noted.",
        "The record {shows} {np}.",
        "{np} {be} recorded.",
    ),
    "probable": (
        "There {be} {hnp}.",
        "{hnp} {be} seen.",
        "{np} {be} likely present.",
        "{hnp} {be} noted.",
    ),
    "possible": (
        "{hnp} {be} seen.",
        "There {be} {hnp}.",
        "{np} cannot be excluded.",
        "{hnp} {be} noted.",
    ),
}
#: Hedges put in front of a noun phrase (after its article, if it has one).
HEDGES: dict[str, tuple[str, ...]] = {
    "definite": ("",),
    "probable": ("probable ", "likely "),
    "possible": ("possible ",),
}

# --- Noun phrases of abnormal findings ------------------------------------------------------------------
# (template, grammatical number). Hedges go in front of them (after the article "a"/"an" if there is one).
NOUN_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "focal_slowing": (
        ("{prev}{loc} {bandadj}slowing", "sg"),
        ("{prev}{focal} {bandadj}slowing {where}", "sg"),
        ("{prev}polymorphic {slowband} activity {where}", "sg"),
        ("{prev}{bandadj}slowing {where}", "sg"),
        ("{prev}{hz} Hz {slowband} slowing {where}", "sg"),
    ),
    "asymmetry": (
        ("amplitude asymmetry with lower amplitude {where}", "sg"),
        ("reduced background amplitude {where}", "sg"),
        ("lower-voltage background activity {where}", "sg"),
        ("{loc} attenuation of the background", "sg"),
        ("an asymmetry of the background with lower amplitude {where}", "sg"),
        ("{side}-sided amplitude attenuation of the background", "sg"),
    ),
    "excess_beta": (
        ("excess beta activity", "sg"),
        ("{prev}excess diffuse beta activity", "sg"),
        ("increased generalized beta activity", "sg"),
        ("excessive {hzadj}beta activity", "sg"),
        ("excess {hzadj}beta frequency activity", "sg"),
    ),
    "burst_suppression": (
        ("burst suppression", "sg"),
        ("a burst-suppression pattern", "sg"),
        ("a pattern of burst suppression", "sg"),
    ),
    "generalized_spike_wave": (
        ("{prev}generalized {hzadj}spike-and-wave discharges", "pl"),
        ("{prev}generalized {hzadj}spike-wave discharges", "pl"),
        ("{prev}bursts of generalized {hzadj}spike-and-wave activity", "pl"),
        ("{prev}generalized {hzadj}spike and slow wave complexes", "pl"),
    ),
    "focal_epileptiform": (
        ("{prev}{loc} sharp waves{field}", "pl"),
        ("{prev}{loc} spikes{field}", "pl"),
        ("{prev}epileptiform discharges {where}", "pl"),
        ("{prev}sharp waves {where}", "pl"),
        ("{prev}interictal epileptiform discharges {where}", "pl"),
        ("{prev}{loc} spike and sharp wave discharges{field}", "pl"),
        ("{prev}sharp waves phase reversing at {el}", "pl"),
        ("{prev}spikes {el_where}", "pl"),
    ),
    "lpd": (
        ("{loc} lateralized periodic discharges (LPDs){athz}", "pl"),
        ("{prev}LPDs {where}{athz}", "pl"),
        ("lateralized periodic discharges {where}{athz}", "pl"),
        ("periodic lateralized epileptiform discharges (PLEDs) {where}{athz}", "pl"),
        ("{loc} LPDs{athz}", "pl"),
    ),
    "lpd_bilateral": (
        ("bilateral independent periodic discharges (BIPDs) in the {regions_word} regions{athz}", "pl"),
        ("BIPDs {where}{athz}", "pl"),
        ("bilateral independent lateralized periodic discharges in the {regions_word} regions{athz}", "pl"),
        ("{prev}bilateral independent periodic discharges{athz}", "pl"),
    ),
    "gpd": (
        ("generalized periodic discharges (GPDs){athz}", "pl"),
        ("{prev}GPDs{athz}", "pl"),
        ("{prev}generalized periodic discharges{athz}", "pl"),
        ("{predom}generalized periodic discharges{athz}", "pl"),
    ),
    "lrda": (
        ("{prev}lateralized rhythmic delta activity (LRDA) {where}{athz}", "sg"),
        ("{prev}{loc} LRDA{athz}", "sg"),
        ("{prev}{loc} lateralized rhythmic delta activity{athz}", "sg"),
        ("runs of lateralized rhythmic delta activity {where}{athz}", "pl"),
    ),
    "grda": (
        ("{prev}generalized rhythmic delta activity (GRDA){athz}", "sg"),
        ("{prev}GRDA{athz}", "sg"),
        ("runs of {predom}generalized rhythmic delta activity{athz}", "pl"),
        ("{prev}{hzadj}{predom}generalized rhythmic delta activity", "sg"),
    ),
    "generalized_slowing": (
        ("{prev}generalized {bandadj}slowing", "sg"),
        ("diffuse {bandadj}slowing of the background", "sg"),
        ("generalized background slowing", "sg"),
        ("diffuse polymorphic {slowband} activity", "sg"),
        ("{prev}diffuse {bandadj}slowing", "sg"),
        ("generalized {hz} Hz {slowband} slowing", "sg"),
    ),
    "seizure": (
        ("an electrographic seizure{onset}", "sg"),
        ("an ictal discharge{onset}", "sg"),
        ("a seizure{onset}", "sg"),
    ),
}

#: Whole sentences for definite findings, used besides the frames for variety.
CODE_SENTENCES: dict[str, tuple[str, ...]] = {
    "generalized_slowing": (
        "The background {is} diffusely slow, consisting mainly of {slowband} activity.",
        "There {is} generalized slowing of the background, with {slowband} activity predominating.",
        "The background activity {is} diffusely slowed into the {slowband} range.",
    ),
    "excess_beta": (
        "There {is} an excess of diffuse beta activity.",
        "Beta activity {is} increased diffusely.",
        "The background {shows} excess beta activity.",
    ),
    "burst_suppression": (
        "The background {shows} a burst-suppression pattern, with bursts of mixed-frequency activity "
        "alternating with periods of suppression.",
        "The record {is} discontinuous, with a burst-suppression pattern.",
        "There {is} burst suppression: bursts of high-amplitude activity are separated by suppressed "
        "intervals.",
        "The background consists of a burst-suppression pattern.",
    ),
    "asymmetry": (
        "The background {is} of lower amplitude {where}.",
        "There {is} an amplitude asymmetry with lower amplitude {where}.",
        "Background amplitude {is} reduced {where}.",
    ),
    "focal_epileptiform": (
        "{prev}{loc} sharp waves {are} seen, phase reversing at {elx}.",
        "There {are} {prev}spikes {where}.",
        "{prev}sharp waves {are} recorded {where}.",
        "{prev}spikes phase reversing at {el} {are} seen.",
        "Interictal epileptiform discharges {are} present {where}.",
    ),
    "lpd": (
        "There {are} lateralized periodic discharges (LPDs) {where}{athz}.",
        "{prev}LPDs {are} present {where}{athz}.",
        "Periodic discharges {are} seen {where}, consistent with LPDs{athz}.",
    ),
    "gpd": (
        "There {are} generalized periodic discharges (GPDs){athz}.",
        "{prev}GPDs {are} seen{athz}.",
    ),
    "lrda": (
        "There {is} lateralized rhythmic delta activity (LRDA) {where}{athz}.",
        "Runs of rhythmic delta activity {are} seen {where}, consistent with LRDA{athz}.",
    ),
    "grda": (
        "There {is} generalized rhythmic delta activity (GRDA){athz}.",
        "Runs of generalized rhythmic delta activity {are} seen{athz}.",
    ),
    "generalized_spike_wave": (
        "There {are} {prev}generalized {hzadj}spike-and-wave discharges.",
        "{prev}bursts of generalized {hzadj}spike-and-wave activity {are} recorded.",
    ),
}

#: Seizure sentences: {sz} is the seizure noun phrase with its article and hedge.
SEIZURE_SENTENCES = (
    "{sz} {is} recorded{attime}{onset}{evol}{dur}.",
    "{sz} {is} captured{onset}{attime}{dur}.",
    "The record {shows} {sz}{onset}{attime}{evol}{dur}.",
    "{attime_cap}, {sz} {begins}{onset}{evol}{dur}.",
)
SEIZURE_NOUNS: dict[str, tuple[str, ...]] = {
    "definite": ("an electrographic seizure", "one electrographic seizure", "a seizure"),
    "probable": (
        "a probable electrographic seizure",
        "a likely electrographic seizure",
        "a probable seizure",
    ),
    "possible": ("a possible electrographic seizure", "a possible seizure"),
}
SEIZURE_NOUNS_AGAIN: dict[str, tuple[str, ...]] = {
    "definite": (
        "another electrographic seizure",
        "a {ordinal} electrographic seizure",
        "a {ordinal} seizure",
    ),
    "probable": ("another probable electrographic seizure", "a {ordinal}, probable electrographic seizure"),
    "possible": ("another possible electrographic seizure", "a {ordinal}, possible electrographic seizure"),
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
ONSET_FOCAL = (", arising from the {loc} {region}", " with {loc} onset", " with onset over the {loc} {region}",
               " with onset at {el}", ", arising from the {loc} {region} ({elx})")  # fmt: skip
ONSET_HEMISPHERE = (", arising from the {side} hemisphere", " with {side} hemispheric onset")
ONSET_BILATERAL = (
    " with bilateral {regions_word} onset",
    ", arising bilaterally from the {regions_word} regions",
)
ONSET_MIDLINE = (" with midline onset at {el}", ", arising from the midline ({el})")
ONSET_GENERALIZED = (" with generalized onset", ", generalized from onset", ", generalized at onset")
EVOLUTION = (
    ", with rhythmic {rhythm} activity evolving in frequency, amplitude and field",
    ", consisting of evolving rhythmic {rhythm} activity",
    ", with clear evolution in frequency and morphology",
    "; the discharge evolves in frequency and spreads before it ends",
)
