"""Phrasing as data: the templates :mod:`neuronarrator.clinical.render` fills to write a report.

Every statement a report makes has several phrasings here, so that a model trained on rendered reports
cannot learn one template. Templates are :meth:`str.format` strings; the renderer offers a set of slot
values for each statement and picks, at random, among the templates whose slots it can fill, so a
template that names an electrode (``{el}``) is only used where one electrode names the region without
ambiguity. Slots ending in a space (``{prev}``, ``{bandadj}``, ``{hzadj}``) may be empty.

Wording rules, because the project's labeler reads these texts back into findings:

- a finding's certainty is written only with the hedges of :data:`HEDGES` (``possible``, ``probable``,
  ``likely``, ``cannot be excluded``); no other sentence uses those words or ``may`` next to a finding;
- the side written is the finding's side (for an asymmetry, the lower side); the other side is never
  named in the same statement;
- region words and electrode names used for a finding stay inside the finding's regions;
- artifacts and sleep transients are written without any side, region or electrode.

Grammar slots the renderer always fills: ``{is}``/``{are}`` (tense-resolved to is/was, are/were),
``{be}`` (the same, agreeing with the noun phrase), ``{shows}`` (shows/showed).
"""

from __future__ import annotations

# --- Locations ------------------------------------------------------------------------------------------
#: Compound adjectives neurologists use for two adjacent regions (keys in REGIONS order).
REGION_COMPOUNDS: dict[tuple[str, str], str] = {
    ("frontal", "central"): "frontocentral",
    ("frontal", "temporal"): "frontotemporal",
    ("central", "temporal"): "centrotemporal",
    ("central", "parietal"): "centroparietal",
    ("temporal", "parietal"): "temporoparietal",
    ("temporal", "occipital"): "temporo-occipital",
    ("parietal", "occipital"): "parieto-occipital",
}

#: Electrodes that name one (side, region) without ambiguity, new name first, old name second.
#: F7/F8 and P7/P8 (T5/T6) sit between two regions, so they are written only for that pair.
ELECTRODES: dict[tuple[str, frozenset[str]], tuple[str, str]] = {
    (side, frozenset(regions)): names
    for side, regions, names in (
        ("left", ("frontal",), ("F3", "F3")), ("left", ("central",), ("C3", "C3")),
        ("left", ("temporal",), ("T7", "T3")), ("left", ("parietal",), ("P3", "P3")),
        ("left", ("occipital",), ("O1", "O1")), ("right", ("frontal",), ("F4", "F4")),
        ("right", ("central",), ("C4", "C4")), ("right", ("temporal",), ("T8", "T4")),
        ("right", ("parietal",), ("P4", "P4")), ("right", ("occipital",), ("O2", "O2")),
        ("midline", ("frontal",), ("Fz", "Fz")), ("midline", ("central",), ("Cz", "Cz")),
        ("midline", ("parietal",), ("Pz", "Pz")),
        ("left", ("frontal", "temporal"), ("F7", "F7")), ("right", ("frontal", "temporal"), ("F8", "F8")),
        ("left", ("temporal", "parietal"), ("P7", "T5")), ("right", ("temporal", "parietal"), ("P8", "T6")),
    )
}  # fmt: skip

#: Prepositional phrases placing a lateralized finding ({loc} = "left temporal"). {el} is an electrode that
#: alone names side and region (T7: left temporal); {elx} may also be a two-region electrode (F7), so it is
#: written only next to the region words.
WHERE_REGION = (
    "over the {loc} {region}",
    "in the {loc} {region}",
    "over the {loc} head {region}",
    "in the {loc} {region} ({elx})",
    "over the {loc} {region} (maximal at {elx})",
)
#: Electrode-only placements: used only where ``{el}`` alone names side and region.
WHERE_ELECTRODE = ("at {el}", "maximal at {el}", "centered at {el}")
WHERE_HEMISPHERE = (
    "over the {side} hemisphere",
    "in the {side} hemisphere",
    "involving the {side} hemisphere",
)
WHERE_BILATERAL = ("over both {regions_word} regions", "bilaterally in the {regions_word} regions",
                   "over the {regions_word} regions bilaterally")  # fmt: skip
WHERE_MIDLINE = ("in the midline ({el})", "at {el}", "over the midline {regions_word} region")
#: Fields of focal discharges next to their region words.
FIELDS = ("", " phase reversing at {elx}", " (maximal at {elx})", " with phase reversal at {elx}")

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

# --- Impression --------------------------------------------------------------------------------------
IMPRESSION_NORMAL = (
    "Normal EEG in the {states_adj} state{s}.",
    "Normal {states_adj} EEG.",
    "This is a normal EEG{in_states}.",
    "Normal electroencephalogram{in_states}.",
    "Normal EEG.",
)
IMPRESSION_ONE = (
    "Abnormal EEG due to {item}.",
    "Abnormal {states_adj} EEG due to {item}.",
    "This EEG is abnormal due to {item}.",
    "Abnormal EEG because of {item}.",
)
IMPRESSION_MANY = (
    "Abnormal EEG due to:",
    "This is an abnormal {states_adj} EEG due to the following:",
    "Abnormal EEG, with the following findings:",
    "Abnormal EEG because of:",
)
IMPRESSION_ABNORMAL_BARE = ("Abnormal EEG.", "This is an abnormal EEG.")
#: A normal impression over hedged abnormal findings (the reader of the report judged them insignificant).
IMPRESSION_NORMAL_WITH_HEDGED = (
    "Normal EEG; the equivocal finding described above is of uncertain significance.",
    "Normal EEG. The questionable finding noted above is not considered significant.",
)
STATE_ADJ = {
    "awake": "awake",
    "drowsy": "drowsy",
    "n1": "sleep",
    "n2": "sleep",
    "n3": "sleep",
    "rem": "sleep",
}
STATE_IN = {"awake": "wakefulness", "drowsy": "drowsiness", "sleep": "sleep"}

# --- Clinical correlation ------------------------------------------------------------------------------
# {subj}: the finding as a singular subject ("This finding", "The presence of left temporal slowing");
# {region}: "the left temporal region". No "may"/"likely"/"possible": those would read as hedges.
CORRELATION: dict[str, tuple[str, ...]] = {
    "normal": (
        "A normal EEG does not exclude a diagnosis of epilepsy.",
        "A normal interictal EEG does not rule out epilepsy; if clinical suspicion persists, a repeat or "
        "prolonged recording including sleep can be considered.",
        "No EEG abnormality was found to support a diagnosis of epilepsy, although a normal EEG does not "
        "exclude it.",
        "A single normal EEG has limited sensitivity for epilepsy; clinical correlation is advised.",
    ),
    "focal_slowing": (
        "{subj} suggests a structural or functional disturbance in {region}; correlation with neuroimaging is "
        "recommended.",
        "{subj} indicates focal cerebral dysfunction in {region}, which can be structural or functional in "
        "origin.",
        "{subj} is a nonspecific sign of focal cerebral dysfunction in {region}; neuroimaging can help to "
        "clarify its cause.",
    ),
    "generalized_slowing": (
        "{subj} indicates nonspecific diffuse cerebral dysfunction (encephalopathy), as seen with toxic, "
        "metabolic, infectious or medication-related causes, among others.",
        "{subj} is consistent with a diffuse encephalopathy of nonspecific etiology.",
        "{subj} suggests diffuse cerebral dysfunction; it is not specific as to cause.",
    ),
    "asymmetry": (
        "{subj} suggests a structural abnormality on the side of lower amplitude, or a collection between "
        "cortex and electrodes; technical factors should be excluded.",
        "{subj} can reflect cortical dysfunction or an extra-axial collection on the lower-amplitude side; "
        "correlation with imaging is suggested.",
        "{subj} points to dysfunction of {region}, if technical causes are excluded.",
    ),
    "excess_beta": (
        "{subj} is most often a medication effect, for example from benzodiazepines or barbiturates.",
        "{subj} is commonly due to sedative medications.",
        "{subj} is usually related to medications; correlation with the medication list is suggested.",
    ),
    "burst_suppression": (
        "{subj} indicates severe diffuse cerebral dysfunction; it is seen with deep sedation or anesthesia, "
        "hypothermia, and severe hypoxic-ischemic or metabolic injury.",
        "{subj} reflects a profound diffuse encephalopathy; correlation with the level of sedation and the "
        "clinical context is essential.",
        "{subj} is consistent with a severe encephalopathy or an anesthetic medication effect.",
    ),
    "generalized_spike_wave": (
        "{subj} is consistent with a generalized epilepsy in the appropriate clinical context.",
        "{subj} supports a diagnosis of a genetic (idiopathic) generalized epilepsy, if clinically "
        "appropriate.",
        "{subj} indicates a generalized epileptic predisposition.",
    ),
    "focal_epileptiform": (
        "{subj} indicates cortical irritability in {region}, consistent with a potentially epileptogenic focus.",
        "{subj} is consistent with a focal epilepsy arising from {region} in the appropriate clinical context.",
        "{subj} suggests an epileptogenic focus in {region}.",
    ),
    "lpd": (
        "{subj} lies on the ictal-interictal continuum and is associated with acute structural injury of "
        "{region} and with an increased risk of seizures.",
        "{subj} suggests an acute or subacute structural process involving {region}; continued monitoring "
        "is recommended.",
        "{subj} is associated with a high epileptogenic potential; clinical correlation is advised.",
    ),
    "gpd": (
        "{subj} is seen with toxic-metabolic encephalopathy and anoxic brain injury and lies on the "
        "ictal-interictal continuum.",
        "{subj} indicates a severe diffuse encephalopathy; continuous monitoring is suggested.",
        "{subj} is associated with an increased risk of nonconvulsive seizures.",
    ),
    "lrda": (
        "{subj} is associated with focal cortical dysfunction in {region} and with an increased risk of "
        "seizures.",
        "{subj} points to dysfunction of {region}; it carries an epileptogenic potential.",
        "{subj} suggests focal cerebral dysfunction in {region}.",
    ),
    "grda": (
        "{subj} is a nonspecific finding, usually associated with diffuse cerebral dysfunction.",
        "{subj} is commonly seen with diffuse encephalopathy of various causes.",
        "{subj} is nonspecific; correlation with the clinical state is suggested.",
    ),
    "seizure": (
        "{subj} indicates epileptic activity{from_region}; urgent clinical correlation is recommended.",
        "{subj} confirms ongoing epileptic activity{from_region}; treatment is at the discretion of the "
        "treating team.",
        "{subj} should be correlated with the clinical events at that time.",
    ),
    "uncertain": (
        "The significance of {ref} is uncertain; a repeat recording could clarify it.",
        "{ref} {is} of uncertain significance and should be interpreted with caution.",
        "If clinically indicated, a repeat EEG could help to establish the significance of {ref}.",
    ),
    "closing": (
        "Clinical correlation is recommended.",
        "Correlation with the clinical history is advised.",
        "Please correlate clinically.",
    ),
}
SUBJECTS = ("This finding", "The presence of {ref}")
