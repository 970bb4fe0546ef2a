"""The words of EEG reports, as data: regex tables that the labeler (``label.py``) reads.

Sources for the terms: the ACNS Standardized Critical Care EEG Terminology (Hirsch et al., J Clin
Neurophysiol 2021: LPDs, GPDs, BIPDs, LRDA, GRDA, "triphasic morphology"), SCORE (Beniczky et al.,
Epilepsia 2013/2017: PDR, reactivity, focal/diffuse slowing, asymmetry, normal variants), and the style of
routine reports (ACNS Guideline 7 on EEG reports; TUH EEG corpus reports: CLINICAL HISTORY /
DESCRIPTION OF THE RECORD / IMPRESSION, abbreviations PLEDs, FIRDA, TIRDA, SSW, PDR, "L temporal").

Order matters in :data:`PATTERNS`: earlier patterns claim their words first, so "vertex sharp waves" is a
vertex wave before "sharp waves" can be epileptiform, and "spike and wave" is a spike-wave before "spike".
A pattern's *concept* is either a finding code or one of the location-resolved concepts (``slowing``,
``rhythmic_delta``, ``periodic``, ``spike_wave``, ``epileptiform``, ``asymmetry``) that become a code once
the phrase's side is known ("left temporal slowing" is focal, "diffuse slowing" generalized).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _rx(pattern: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


@dataclass(frozen=True)
class Pattern:
    """One way reports write a finding.

    Attributes
    ----------
    concept : a finding code, or a concept resolved by location (see module docstring).
    regex : the words.
    side, regions : what the term itself implies (BIPLEDs are bilateral; FIRDA is frontal).
    kind : ``"generalized"`` or ``"lateralized"`` when the term itself says so (GPEDs, PLEDs), else ``""``.
    negative : the term asserts absence ("unreactive").
    needs : a context the sentence must have for the words to count (see ``CONTEXTS``).
    """

    concept: str
    regex: re.Pattern[str]
    side: str | None = None
    regions: tuple[str, ...] = ()
    kind: str = ""
    negative: bool = False
    needs: str | None = None


def P(concept: str, pattern: str, flags: int = re.I, **kw) -> Pattern:  # noqa: N802 - table constructor
    return Pattern(concept, _rx(pattern, flags), **kw)


# --- words that look like findings but are not (masked before matching) ---------------------------------
#: (regex, name): spans removed before findings are matched. A name records a term outside the findings
#: vocabulary that the report mentions (benign variants, breach rhythm, ...); None masks silently.
MASKS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (_rx(r"\bbreach(?:\s+rhythm|\s+effect)?\b"), "breach rhythm"),
    (_rx(r"\bmu\s+(?:rhythms?|activity|waves?)\b"), "mu rhythm"),
    (_rx(r"\blambda\s+waves?\b"), "lambda waves"),
    (_rx(r"\bpositive\s+occipital\s+sharp\s+transients(?:\s+of\s+sleep)?\b|\bPOSTS\b"), "POSTS"),
    (_rx(r"\bwicket(?:\s+(?:spikes?|waves?|rhythms?|activity|transients?))?\b"), "wicket spikes"),
    (_rx(r"\bbenign\s+(?:epileptiform\s+transients\s+of\s+sleep|sporadic\s+sleep\s+spikes)\b|\bBETS\b|"
         r"\bsmall\s+sharp\s+spikes\b"), "benign sporadic sleep spikes"),
    (_rx(r"\b14\s*(?:and|&)\s*6(?:\s*Hz)?\s+positive\s+(?:spikes|bursts)\b"), "14 and 6 positive spikes"),
    (_rx(r"\b6\s*-?\s*Hz\s+(?:phantom\s+)?spike[- ](?:and[- ])?(?:slow[- ])?waves?\b|\bphantom\s+spike[- ]"
         r"(?:and[- ])?waves?\b"), "6 Hz phantom spike-and-wave"),
    (_rx(r"\brhythmic\s+mid-?temporal\s+theta(?:\s+(?:bursts\s+)?of\s+drowsiness)?\b|\bRMTD\b|"
         r"\bpsychomotor\s+variant\b"), "rhythmic midtemporal theta of drowsiness"),
    (_rx(r"\bSREDA\b|\bsubclinical\s+rhythmic\s+electrographic\s+discharges?\s+of\s+adults\b"), "SREDA"),
    (_rx(r"\bhypnagogic\s+hypersynchrony\b"), "hypnagogic hypersynchrony"),
    (_rx(r"\b(?:photic\s+)?driving(?:\s+response)?\b"), "photic driving"),
    (_rx(r"\bslow\s+alpha\s+variant\b"), "slow alpha variant"),
    (_rx(r"\balpha\s+coma\b"), "alpha coma"),
    (_rx(r"\blow[- ](?:voltage|amplitude)\s+(?:record|recording|EEG|background|tracing)\b"), "low-voltage record"),
    (_rx(r"\belectrocerebral\s+(?:inactivity|silence)\b|\bECI\b"), "electrocerebral inactivity"),
    (_rx(r"\bdiscontinuous\s+(?:background|record|pattern)\b|\bdiscontinuity\b"), "discontinuity"),
    (_rx(r"\bBIRDs?\b|\bbrief\s+(?:potentially\s+ictal\s+)?rhythmic\s+discharges\b"), "BIRDs"),
    (_rx(r"\bictal[- ]interictal\s+continuum\b|\bIIC\b"), "ictal-interictal continuum"),
    (_rx(r"\bhypsarrhythmi[ac]\b"), "hypsarrhythmia"),
    (_rx(r"\bglossokinetic(?:\s+artifacts?)?\b"), "glossokinetic artifact"),
    # Clinical words, not EEG findings, wherever they appear.
    (_rx(r"\b(?:history|h/o|hx)\s+of\s+(?:\w+\s+){0,3}?(?:seizures?|epilepsy|status\s+epilepticus|"
         r"encephalopathy|spells?|events?)\b"), None),
    (_rx(r"\banti-?(?:seizure|epileptic|convulsant)s?(?:\s+(?:medications?|drugs?|therapy))?\b"), None),
    (_rx(r"\bseizures?[- ](?:medications?|drugs?|precautions?|threshold|disorder|history|control|free(?:dom)?|"
         r"frequency|focus|foci|risk|tendency|semiology|types?|prophylaxis|like)\b"), None),
    (_rx(r"\b(?:predisposition|propensity|tendency|risk|potential|susceptibility|liability|predisposed)\s+"
         r"(?:to|for|of)\s+(?:\w+\s+){0,2}?(?:seizures?|epilepsy)\b"), None),
    (_rx(r"\b(?:known|prior|previous|reported|recurrent)\s+seizures?\b"), None),
    # The study's purpose, often restated in INTRODUCTION: "performed to evaluate for seizures".
    (_rx(r"\b(?:evaluat\w*|assess\w*|rule\s+out|r/o|screen\w*|monitor\w*|work-?up)\s+(?:\w+\s+){0,3}?"
         r"(?:for\s+|of\s+)?(?:possible\s+|subclinical\s+|nonconvulsive\s+)?(?:seizures?|status\s+epilepticus)\b"), None),
    (_rx(r"\b(?:non-?epileptic|psychogenic|functional)\s+(?:\w+\s+){0,2}?(?:seizures?|events?|spells?|attacks?)\b|"
         r"\bP?NES\b"), None),
    (_rx(r"\bmuscle\s+relaxants?\b"), None),
    # Semiology and body sides: "head turning to the left", "right arm jerking" locate a behaviour, not EEG.
    (_rx(r"\b(?:turn\w*|deviat\w*|version|gaze|looking|rotat\w*)\s+(?:\w+\s+){0,2}?(?:to|toward|towards)\s+"
         r"(?:the\s+)?(?:left|right)\b"), None),
    (_rx(r"\b(?:left|right)[- ](?:arm|leg|hand|face|facial|foot|side\s+of\s+the\s+body|upper\s+extremity|"
         r"lower\s+extremity|handed|eye|hemibody|body|shoulder|mouth)\b"), None),
    (_rx(r"\b(?:\d+(?:\.\d+)?\s*Hz\s+)?(?:notch|LFF|HFF|low[- ]frequency|high[- ]frequency|low[- ]pass|high[- ]pass)"
         r"\s+filters?(?:\s+(?:of|at|set\s+(?:at|to))\s+\d+(?:\.\d+)?\s*Hz)?"), None),
    (_rx(r"\b(?:automated\s+)?(?:spike|seizure)(?:\s+and\s+seizure)?\s+detect\w*"), None),
    (_rx(r"\ba\s+normal\s+(?:EEG|study|record(?:ing)?)\s+does\s+not\s+(?:exclude|rule\s+out)\b[^.;]*"), None),
    (_rx(r"\bsleep[- ]deprived\b|\bsleep\s+deprivation\b"), None),
    (_rx(r"\brapid\s+eye\s+movements?\s+(?:\(REM\)\s+)?sleep\b|\bslow[- ]wave\s+sleep\b"), None),
)  # fmt: skip

# --- findings ---------------------------------------------------------------------------------------------
_HZ = r"\d+(?:\.\d+)?(?:\s*(?:-|to)\s*\d+(?:\.\d+)?)?\s*-?\s*Hz"
_EYES_OPEN = r"(?:(?:the\s+)?eyes?[- ]open\w*|opening\s+(?:of\s+)?(?:the\s+)?eyes|eye[- ]opening)"
_ART = r"(?:\s+(?:artifacts?|artefacts?|contamination|interference|noise))"
# "EKG and muscle artifact": the first noun shares the head "artifact" with the second.
_SHARED_ART = r"(?=(?:\s*(?:,|and|or|/)\s*\w+(?:\s+\w+)?)?\s+(?:artifacts?|artefacts?))"

PATTERNS: tuple[Pattern, ...] = (
    # Normal sleep transients claim "vertex sharp waves" before epileptiform patterns see "sharp waves".
    P("vertex_waves", r"\bvertex(?:\s+sharp)?\s+(?:waves?|transients?|potentials?)\b|\bV[- ]waves?\b|\bvertex\s+sharps?\b"),
    P("k_complexes", r"\bK[- ]?complex(?:es)?\b"),
    P("sleep_spindles", r"\b(?:sleep\s+|sigma\s+)?spindles?\b"),
    # Artifacts (before epileptiform: "lateral rectus spikes" are eye movements).
    P("eye_movement_artifact", r"\blateral\s+rectus\s+(?:spikes?|potentials?|artifacts?)\b|"
      r"(?:\b(?:lateral|vertical|horizontal|slow|rapid|roving|conjugate)\s+)?\beye[- ]movements?" + _ART + r"?\b|"
      r"\b(?:ocular|oculomotor|EOG)" + _ART + r"\b|\bocular\s+movements?\b"),
    P("eye_blink_artifact", r"\b(?:eye[- ]?)?blink(?:s|ing)?" + _ART + r"?\b|\beyelid\s+(?:flutter|artifacts?)\b"),
    P("muscle_artifact", r"\bmuscle(?:\s+(?:and\s+movement\s+)?(?:artifacts?|artefacts?|activity|contamination|potentials?))?\b|"
      r"\b(?:myogenic|electromyographic)(?:\s+(?:artifacts?|activity|contamination|potentials?))?\b|"
      r"\bEMG(?:\s+(?:artifacts?|activity|contamination|potentials?)|" + _SHARED_ART + r")\b|"
      r"\b(?:chewing|shivering)" + _ART + r"?\b|\b(?:body\s+|patient\s+)?movement" + _ART + r"\b"),
    P("electrode_artifact", r"\belectrode(?:\s+(?:pops?|popping|artifacts?|artefacts?|noise|contact\s+artifacts?)|"
      + _SHARED_ART + r")\b|\b(?:lead|electrode)[- ]pops?\b|\bsalt[- ]bridg(?:e|ing)\b|"
      r"\b(?:poor|high)\s+(?:electrode\s+)?(?:contact|impedances?)\b|"
      r"\b(?:bad|faulty|loose|defective|poorly\s+attached)\s+(?:electrodes?|leads?)\b"),
    P("ecg_artifact", r"\b(?:ECG|EKG|cardiac|pulse|cardioballistic|ballistocardiographic)(?:" + _ART + r"|"
      + _SHARED_ART + r")\b"),
    P("line_noise", r"\b(?:50|60)\s*-?\s*(?:Hz|hertz|cycles?(?:\s+per\s+second)?)" + _ART + r"\b|\bline[- ]noise\b|"
      r"\b(?:power[- ]?line|mains|AC|electrical|electrical\s+line)" + _ART + r"\b|"
      r"\b(?:artifacts?|noise|interference)\s+(?:at|from|of)\s+(?:50|60)\s*Hz\b"),
    # Patterns of the ACNS critical-care terminology.
    P("burst_suppression", r"\bburst[- ]?suppress(?:ion|ed)\b|\bsuppression[- ]bursts?\b|\bburst[- ]attenuation\b"),
    P("seizure", r"\bevolv(?:ing|ed|es)\b|\bevolution\b", needs="rhythmic"),
    P("seizure", r"\bseizures?\b|(?<![-\w])ictal\b(?![- ]interictal)(?:\s+(?:patterns?|activity|discharges?|rhythms?|"
      r"events?|onset|EEG))?|\bstatus\s+epilepticus\b|\bNCSE\b"),
    P("periodic", r"\bBI-?PLEDs?\b|\bBIPDs?\b|\bbilateral(?:ly)?\s+independent\s+periodic\s+(?:lateralized\s+)?"
      r"(?:epileptiform\s+)?discharges\b", side="bilateral", kind="lateralized"),
    P("periodic", r"\bPLEDs?\b|\bLPDs?\b|\bperiodic\s+lateralized\s+(?:epileptiform\s+)?discharges?\b|"
      r"\blateralized\s+periodic\s+(?:epileptiform\s+)?discharges?\b", kind="lateralized"),
    P("periodic", r"\bGPEDs?\b|\bGPDs?\b|\btriphasic(?:\s+(?:waves?|morphology|discharges|complexes))?\b|"
      r"\bgeneralized\s+periodic\s+(?:epileptiform\s+)?discharges?\b", kind="generalized"),
    P("periodic", r"\bperiodic\s+(?:epileptiform\s+|sharp\s+|sharply\s+contoured\s+)?(?:discharges?|complexes|"
      r"sharp\s+waves?|spikes|waves|patterns?)\b|\bPEDs?\b|\bPDs\b"),
    P("rhythmic_delta", r"\bLRDA\b|\blateralized\s+rhythmic\s+delta(?:\s+activity)?\b", kind="lateralized"),
    P("rhythmic_delta", r"\bTIRDA\b|\btemporal\s+intermittent\s+rhythmic\s+delta(?:\s+activity)?\b",
      kind="lateralized", regions=("temporal",)),
    P("rhythmic_delta", r"\bFIRDA\b|\bfrontal(?:ly)?\s+(?:predominant\s+)?intermittent\s+rhythmic\s+delta"
      r"(?:\s+activity)?\b", kind="generalized", regions=("frontal",)),
    P("rhythmic_delta", r"\bOIRDA\b|\boccipital(?:ly)?\s+(?:predominant\s+)?intermittent\s+rhythmic\s+delta"
      r"(?:\s+activity)?\b", kind="generalized", regions=("occipital",)),
    P("rhythmic_delta", r"\bGRDA\b|\bgeneralized\s+rhythmic\s+delta(?:\s+activity)?\b", kind="generalized"),
    P("rhythmic_delta", r"\b(?:intermittent\s+|persistent\s+|continuous\s+)?rhythmic\s+(?:" + _HZ + r"\s+)?delta"
      r"(?:\s+(?:activity|waves?|slowing|frequency))?\b|\bIRDA\b|\bRDA\b"),
    # Epileptiform discharges: spike-wave before single spikes.
    P("spike_wave", r"\bphotoparoxysmal\s+(?:responses?|discharges?)\b|\bPPR\b", kind="generalized"),
    P("spike_wave", r"\b(?:poly-?)?spikes?[- ]?(?:and|&|/)?[- ]?(?:slow[- ])?waves?(?:\s+(?:complexes|discharges|"
      r"activity|bursts|paroxysms))?\b|\bpoly-?spikes?(?:\s+discharges)?\b"),
    P("epileptiform", r"\bsharp[- ](?:and|&)[- ]slow[- ]waves?(?:\s+complexes)?\b|"
      r"\b(?:spikes?|sharp[- ]waves?|sharps)(?:\s*(?:,|and|or|/|&)\s*(?:spikes?|sharp[- ]waves?))*\b|"
      r"(?<!non-)(?<!non)\bepileptiform(?:\s+(?:discharges?|activity|abnormalit(?:y|ies)|features?|transients?|potentials?|spikes?|"
      r"sharp\s+waves?|patterns?|findings?))?\b|\bIEDs?\b|\bSSWs?\b|\bSPSWs?\b"),
    # Slowing, and the impression-level words for it ("encephalopathy" only where it describes the EEG).
    P("slowing", r"\bencephalopath(?:y|ic)\b|\b(?:cerebral|cortical|neuronal)\s+dysfunction\b", needs="eeg"),
    P("slowing", r"\bslowing\b|\bslow(?:[- ]wave)?\s+(?:activity|waves|frequencies|transients)\b|\bslow\s+background\b|"
      r"\b(?:polymorphic|arrhythmic|irregular)\s+(?:" + _HZ + r"\s+)?(?:delta|theta)(?:\s+and\s+(?:delta|theta))?"
      r"(?:\s+(?:activity|waves?|frequencies|slowing))?\b|\bPDA\b|"
      r"\b(?:excess(?:ive)?|increased|abundant|prominent)\s+(?:diffuse\s+|generalized\s+)?(?:theta|delta|slow)"
      r"(?:\s+and\s+(?:theta|delta))?(?:\s+(?:activity|waves?|frequencies|range))?\b|"
      r"\b(?:background|record|EEG|tracing)(?:\s+(?:activity|rhythms?|frequencies))?\s+(?:is|was|are|were)\s+"
      r"(?:\w+\s+)?slow(?:ed)?\b"),
    P("slowing", r"\b(?:focal|regional|lateralized)\s+(?:" + _HZ + r"\s+)?(?:delta|theta)(?:\s+and\s+(?:delta|theta))?"
      r"(?:\s+(?:activity|waves?|frequencies|slowing))?\b"),
    # Plain "theta activity"/"delta waves" is slowing only where the text puts it on one side ("intermittent
    # theta activity in the right temporal region"); unlocated it is just a description of the background.
    P("slowing", r"(?<!rhythmic )\b(?:" + _HZ + r"\s+)?(?:delta|theta)(?:\s+and\s+(?:delta|theta))?\s+(?:activity|waves|"
      r"frequencies|range\s+activity)\b", kind="lateral_only"),
    P("asymmetry", r"\basymmetr(?:y|ies|ic|ical|ically)\b|"
      r"\b(?:lower|reduced|decreased|attenuated|diminished|depressed|suppressed)[- ](?:\w+\s+)?(?:amplitudes?|voltages?|"
      r"background|fast\s+activity|faster\s+frequencies|beta(?:\s+activity)?|alpha(?:\s+activity|\s+rhythm)?)\b|"
      r"\b(?:amplitudes?|voltages?)\s+(?:is\s+|was\s+|are\s+|were\s+)?(?:lower|reduced|decreased|attenuated|diminished|"
      r"depressed|suppressed)\b|\b(?:attenuation|suppression|depression|reduction)\s+of\s+(?:the\s+)?(?:background|"
      r"amplitudes?|voltages?|fast|beta|faster)\b|\b(?:voltage|amplitude)\s+(?:attenuation|depression|suppression)\b"),
    P("excess_beta", r"\b(?:excess(?:ive)?|increased|prominent|abundant|copious|enhanced|marked|high[- ]amplitude)\s+"
      r"(?:[\w.-]+\s+){0,3}?(?:beta|fast)(?:\s+(?:activity|frequencies|frequency\s+activity|range\s+activity|"
      r"rhythms?))?\b|"
      r"\bbeta(?:\s+(?:activity|frequencies))?\s+(?:(?:is|was|are|were)\s+)?(?:\w+\s+)?(?:increased|excessive|"
      r"prominent|abundant|enhanced)\b|\b(?:medication|drug|benzodiazepine|barbiturate|sedative)(?:[- ](?:related|"
      r"induced))?\s+effects?\b|\b(?:benzodiazepine|barbiturate)[- ](?:induced|related)?\s*(?:beta|fast)\b"),
    # The posterior dominant rhythm and its reactivity.
    P("pdr", r"\bposterior(?:ly)?[- ]dominant\s+(?:alpha\s+)?(?:rhythm|activity|frequency|background)\b|"
      r"\bposterior\s+(?:basic\s+|background\s+|alpha\s+|dominant\s+)?rhythm\b|\bposterior\s+alpha(?:\s+activity)?\b|"
      r"\boccipital\s+(?:alpha|dominant)\s+(?:rhythm|activity)\b|\b(?:dominant|background)\s+(?:posterior\s+|alpha\s+|"
      r"background\s+)?rhythm\b|\balpha\s+rhythm\b|(?<![\w.])" + _HZ + r",?\s+(?:posterior\s+)?alpha(?:\s+(?:activity|"
      r"rhythm|frequency))?\b"),
    P("pdr", r"\bPDR\b|\bPBR\b", flags=0),
    P("pdr", r"\balpha(?:\s+(?:activity|frequency|range\s+activity))?\b", needs="posterior"),
    P("pdr_reactive", r"\b(?:non-?reactive|unreactive|nonreactive)\b", negative=True),
    P("pdr_reactive", r"\b(?:attenuat|block|suppress|reduc|disappear|react|diminish|abolish)\w*\s+(?:\w+\s+){0,4}?"
      r"(?:with|on|upon|to|after|by|following|during)\s+" + _EYES_OPEN + r"|\beye[- ]opening\s+(?:\w+\s+){0,2}?"
      r"(?:attenuat|block|suppress|reduc|abolish)\w*"),
    P("pdr_reactive", r"\b(?:reactive|reactivity|responsive)\b", needs="pdr"),
)  # fmt: skip

#: Concepts whose code depends on the location phrase (resolved in ``label.py``).
LOCATED_CONCEPTS = frozenset(
    {"slowing", "rhythmic_delta", "periodic", "spike_wave", "epileptiform", "asymmetry"}
)

#: Sentence/clause contexts a pattern may need (``Pattern.needs``).
CONTEXTS: dict[str, re.Pattern[str]] = {
    "rhythmic": _rx(r"rhythm|discharge|spike|sharp|frequenc|amplitude|field|morpholog|spread"),
    "posterior": _rx(r"posterior|occipital|eyes?\s+closed|eye\s+closure|\bPDR\b"),
    # Encephalopathy describes the EEG when the sentence reads the tracing ("consistent with", "diffuse").
    "eeg": _rx(
        r"\b(?:consistent\s+with|suggestive\s+of|suggest\w*|indicat\w*|compatible\s+with|reflect\w*|"
        r"evidence\s+of|support\w*|characteristic\s+of|typical\s+of|due\s+to|diffuse|generali[sz]ed|mild|"
        r"moderate|severe|mildly|moderately|severely|EEG|record|recording|tracing|pattern|findings?)\b"
    ),
}
#: Words before "encephalopathy" that make it the patient's diagnosis, not a reading of the EEG.
CLINICAL_ENCEPHALOPATHY = _rx(
    r"\b(?:known|history\s+of|patient\s+with|in\s+(?:a|this|the)\s+patient|diagnosis\s+of|"
    r"hepatic|uremic|septic|metabolic|toxic|anoxic|hypoxic)\b[^.;]*$"
)

#: Words that mark a slowing as focal even before its side is known ("focal slowing").
FOCAL_WORD = _rx(r"\b(?:focal|regional|lateralized|lateralizing|unilateral|localized|hemispheric)\b")

# --- reasons to set a mention aside -----------------------------------------------------------------------
#: After a non-artifact finding, in its clause: the reader attributes it to artifact.
ARTIFACT_ATTRIBUTION = _rx(
    r"\b(?:(?:most\s+)?(?:likely|probably)\s+)?(?:artifact(?:ual)?|artefact(?:ual)?|"
    r"of\s+artifactual\s+origin|(?:due|related|secondary)\s+to\s+(?:\w+\s+){0,3}?artifacts?|"
    r"represent(?:s|ing)?\s+(?:\w+\s+){0,2}?artifacts?)\b"
)
#: After a finding, in its clause: the reader calls it normal.
NORMAL_ATTRIBUTION = _rx(
    r"\b(?:normal|benign)\s+(?:variants?|findings?|for\s+(?:the\s+patient'?s\s+)?age)\b|"
    r"\bof\s+no\s+(?:clinical\s+)?significance\b|\bwithin\s+normal\s+limits\b"
)
#: Diffuse slowing in these clauses is a normal state change (drowsiness, hyperventilation build-up), unless
#: the clause calls the record abnormal ("Abnormal awake and drowsy EEG due to diffuse slowing").
PHYSIOLOGIC_SLOWING = _rx(r"\bdrows\w*|\bhypnagogic\b|\bhyperventilation\b|\bHV\b|\bbuild-?\s?up\b|\bsleep\b")
#: A clinical event without an electrographic correlate is not an electrographic seizure.
NO_EEG_CORRELATE = _rx(
    r"\b(?:without|no|lacked|lacking)\s+(?:any\s+|an?\s+|clear\s+)?(?:EEG|electrographic|ictal|"
    r"electroencephalographic)\s+(?:correlate|change|accompaniment)|\b(?:EEG|electrographic)\s+"
    r"correlates?\s+(?:was|were)\s+not\b"
)
#: An asymmetry explained by a skull defect, or the PDR's reactivity, is not an asymmetry finding.
ASYMMETRY_EXCUSE = _rx(
    r"\bbreach\b|\bskull\s+defect\b|\bcraniotomy\b|\bcraniectomy\b|\bburr\s+holes?\b|" + _EYES_OPEN
)

# --- asymmetry: which side is lower ----------------------------------------------------------------------
_S = r"(left|right|L|R)"
ASYM_GREATER = re.compile(
    _S + r"\s*(?:>|greater\s+than|higher\s+than|more\s+than|exceeds?)\s*(?:the\s+)?" + _S
)
ASYM_LESS = re.compile(_S + r"\s*(?:<|less\s+than|lower\s+than|smaller\s+than)\s*(?:the\s+)?" + _S)
LOWER_WORDS = _rx(
    r"\b(?:lower|reduced|decreased|attenuat\w*|diminish\w*|depress\w*|suppress\w*|less|poorer|poorly|"
    r"smaller|reduction|loss|absent|slower)\b"
)
HIGHER_WORDS = _rx(
    r"\b(?:higher|greater|increased|larger|better|more\s+prominent|more\s+(?:developed|formed))\b"
)

# --- state -----------------------------------------------------------------------------------------------
#: (state, regex): words that say the patient was in a state during the recording. ``sleep`` is generic.
STATE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "awake",
        _rx(
            r"\b(?:awake|wakeful(?:ness)?|wake|waking|alert|eyes?\s+(?:open(?:ed|ing)?|closed|closure)|"
            r"eye\s+(?:opening|closure))\b"
        ),
    ),
    ("drowsy", _rx(r"\bdrows(?:y|iness)\b|\bsomnolen(?:t|ce)\b|\bsleepy\b")),
    ("n1", _rx(r"\bstage\s+(?:I|1|one)\b|\blight\s+sleep\b")),
    ("n1", _rx(r"\bN1\b", 0)),
    ("n2", _rx(r"\bstage\s+(?:II|2|two)\b")),
    ("n2", _rx(r"\bN2\b", 0)),
    (
        "n3",
        _rx(
            r"\bstage\s+(?:III|IV|3|4|three|four)\b|\bslow[- ]wave\s+sleep\b|\bdeep\s+sleep\b|\bdelta\s+sleep\b"
        ),
    ),
    ("n3", _rx(r"\bN3\b", 0)),
    ("sleep", _rx(r"\bnon-?REM\b|\bNREM\b")),
    ("rem", _rx(r"(?<![Nn]on-)(?<![Nn]on)\bREM\b", 0)),
    ("rem", _rx(r"\brapid\s+eye\s+movement\s+sleep\b|\bstage\s+R\b")),
    ("sleep", _rx(r"\b(?:asleep|sleep|sleeping|slept|sleeps)\b")),
)
#: In the same clause as a state word, these make it the state the record is mostly in.
DOMINANT = _rx(
    r"\b(?:predominantly|mostly|mainly|primarily|largely|majority|throughout|entire(?:ly)?|exclusively|"
    r"remained|remains|for\s+most\s+of|most\s+of\s+the|predominat(?:ed|es|ing|e))\b"
)
#: Just before a state word, these make it a circumstance ("spikes during sleep", "activated in sleep"), not
#: a statement of the record's state.
WEAK_STATE = _rx(r"\b(?:during|in|with|by|on|upon|of)\s+(?:(?:the|a|light|brief|early)\s+)?$")
#: Masked before state words are read ("sleep-deprived EEG" is a protocol, not a state).
STATE_MASK = _rx(r"\bsleep[- ]deprived\b|\bsleep\s+deprivation\b|\bsleep[- ]wake\b")

# --- impression ------------------------------------------------------------------------------------------
_STUDY = r"(?:EEG|electroencephalogram|record(?:ing)?|study|tracing)"
# "awake, drowsy, and sleep EEG": a list of states before the study, commas allowed.
_STATE_WORD = r"(?:awake|wake|waking|drowsy|asleep|sleep|sedated)"
_STATE_LIST = (
    rf"(?:[\w-]+\s+){{0,2}}?{_STATE_WORD}(?:,\s*{_STATE_WORD})*,?\s+(?:and|or)\s+{_STATE_WORD}\s+{_STUDY}\b"
)
ABNORMAL_STATEMENT = _rx(
    rf"\babnormal\s+(?:[\w-]+\s+){{0,4}}?{_STUDY}\b|\babnormal\s+{_STATE_LIST}|\b{_STUDY}\s+(?:is|was)\s+(?:\w+\s+)?abnormal\b|"
    r"^\s*(?:mildly\s+|moderately\s+|markedly\s+|severely\s+)?abnormal\s*(?:[.,:;]|$|\s+(?:due|because|for|with))|"
    r"\bnot\s+(?:within\s+normal\s+limits|normal)\b"
)
NORMAL_STATEMENT = _rx(
    rf"(?<!ab)\bnormal\s+(?:[\w-]+\s+){{0,4}}?{_STUDY}\b|(?<!ab)\bnormal\s+{_STATE_LIST}|\b{_STUDY}\s+(?:is|was)\s+(?:\w+\s+)?"
    r"(?:normal|unremarkable)\b|\bwithin\s+normal\s+limits\b|\bunremarkable\s+" + _STUDY + r"\b|"
    r"^\s*(?:essentially\s+)?normal\s*[.!]?\s*$"
)
NO_ABNORMALITY = _rx(
    r"\bno\s+(?:significant\s+|definite\s+)?(?:EEG\s+|electrographic\s+)?abnormalit(?:y|ies)\b"
)
