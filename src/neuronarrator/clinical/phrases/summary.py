"""IMPRESSION and CLINICAL CORRELATION: the report's summary and its interpretation."""

from __future__ import annotations

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
        "{ref} {be} of uncertain significance and should be interpreted with caution.",
        "If clinically indicated, a repeat EEG could help to establish the significance of {ref}.",
    ),
    "closing": (
        "Clinical correlation is recommended.",
        "Correlation with the clinical history is advised.",
        "Please correlate clinically.",
    ),
}
SUBJECTS = ("This finding", "The presence of {ref}")
