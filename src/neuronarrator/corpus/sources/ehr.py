"""EHR facts read from a report's CLINICAL HISTORY and MEDICATIONS sections (TUH EEG reports).

Age and sex come from the history line neurologists open with ("67 year old woman", "A 5-year-old boy",
"34 yo F"); medications are matched by generic and brand name against :data:`ATC` (WHO ATC codes of
the drugs that fill EEG reports: antiseizure drugs, sedatives, antipsychotics and antidepressants,
which change the EEG, and common others); diagnoses by keyword against :data:`ICD10_KEYWORDS`, skipping
negated mentions ("no history of seizures"). Anything not recognised is left out, never guessed.
"""

from __future__ import annotations

import re

#: ATC code -> names (generic first, then brands), matched as whole words, any case.
ATC: dict[str, tuple[str, ...]] = {
    # antiseizure drugs (N03)
    "N03AX14": ("levetiracetam", "keppra"), "N03AB02": ("phenytoin", "dilantin"),
    "N03AB05": ("fosphenytoin", "cerebyx"),
    "N03AG01": ("valproate", "valproic acid", "divalproex", "depakote", "depakene", "depacon"),
    "N03AX09": ("lamotrigine", "lamictal"), "N03AF01": ("carbamazepine", "tegretol", "carbatrol"),
    "N03AF02": ("oxcarbazepine", "trileptal"), "N03AX18": ("lacosamide", "vimpat"),
    "N03AX11": ("topiramate", "topamax"), "N03AX15": ("zonisamide", "zonegran"),
    "N03AX12": ("gabapentin", "neurontin"), "N03AX16": ("pregabalin", "lyrica"),
    "N03AA02": ("phenobarbital", "phenobarbitone", "luminal"), "N03AA03": ("primidone", "mysoline"),
    "N03AD01": ("ethosuximide", "zarontin"), "N03AX10": ("felbamate", "felbatol"),
    "N03AF03": ("rufinamide", "banzel"), "N03AX23": ("brivaracetam", "briviact"),
    "N03AF04": ("eslicarbazepine", "aptiom"), "N03AX22": ("perampanel", "fycompa"),
    "N03AE01": ("clonazepam", "klonopin"),
    # benzodiazepines, hypnotics, anaesthetics
    "N05BA06": ("lorazepam", "ativan"), "N05BA01": ("diazepam", "valium"), "N05BA09": ("clobazam", "onfi"),
    "N05BA12": ("alprazolam", "xanax"), "N05CD08": ("midazolam", "versed"), "N05CF02": ("zolpidem", "ambien"),
    "N01AX10": ("propofol", "diprivan"), "N05CM18": ("dexmedetomidine", "precedex"),
    "N05CH01": ("melatonin",),
    # antipsychotics, antidepressants, mood stabilisers, stimulants, dementia
    "N05AD01": ("haloperidol", "haldol"), "N05AH04": ("quetiapine", "seroquel"),
    "N05AH03": ("olanzapine", "zyprexa"), "N05AX08": ("risperidone", "risperdal"),
    "N05AN01": ("lithium",), "N06AB06": ("sertraline", "zoloft"), "N06AB03": ("fluoxetine", "prozac"),
    "N06AB04": ("citalopram", "celexa"), "N06AB10": ("escitalopram", "lexapro"),
    "N06AX05": ("trazodone", "desyrel"), "N06AA09": ("amitriptyline", "elavil"),
    "N06AX16": ("venlafaxine", "effexor"), "N06AX12": ("bupropion", "wellbutrin"),
    "N06BA04": ("methylphenidate", "ritalin", "concerta"), "N06DA02": ("donepezil", "aricept"),
    # analgesics, opioids, muscle relaxants
    "N02AA01": ("morphine",), "N02AB03": ("fentanyl",), "N02AA05": ("oxycodone", "percocet", "oxycontin"),
    "N02BE01": ("acetaminophen", "paracetamol", "tylenol"), "M03BX01": ("baclofen", "lioresal"),
    # cardiovascular, metabolic and others common in inpatients
    "B01AC06": ("aspirin",), "B01AB01": ("heparin",), "B01AA03": ("warfarin", "coumadin"),
    "B01AC04": ("clopidogrel", "plavix"), "C07AB02": ("metoprolol", "lopressor", "toprol"),
    "C09AA03": ("lisinopril", "zestril"), "C08CA01": ("amlodipine", "norvasc"),
    "C10AA05": ("atorvastatin", "lipitor"), "A10BA02": ("metformin", "glucophage"),
    "H03AA01": ("levothyroxine", "synthroid"), "A02BC01": ("omeprazole", "prilosec"),
    "A02BC02": ("pantoprazole", "protonix"), "H02AB02": ("dexamethasone", "decadron"),
}  # fmt: skip

#: ICD-10 code -> keyword patterns (regular expressions, any case) in the clinical history. Order
#: matters only for :data:`SUPERSEDES`.
ICD10_KEYWORDS: dict[str, str] = {
    "G40.901": r"status epilepticus",
    "G40.909": r"epilep(?:sy|tic)|seizure disorder",
    "R56.9": r"seizures?|convulsions?|spells?",
    "R55": r"syncop(?:e|al)",
    "R41.82": r"altered mental status|\bAMS\b|mental status changes?",
    "G93.40": r"encephalopathy",
    "G93.1": r"anoxic brain injury|hypoxic[- ]ischemic",
    "I63.9": r"stroke|\bCVA\b|cerebral infarct(?:ion)?",
    "I61.9": r"intracerebral (?:hemorrhage|haemorrhage)|\bICH\b",
    "I60.9": r"subarachnoid (?:hemorrhage|haemorrhage)|\bSAH\b",
    "I46.9": r"cardiac arrest",
    "S06.9": r"traumatic brain injury|\bTBI\b|head injury|head trauma",
    "C71.9": r"brain tumou?r|glioma|glioblastoma",
    "G03.9": r"meningitis", "G04.90": r"encephalitis",
    "F03.90": r"dementia", "G43.909": r"migraines?", "R51.9": r"headaches?",
    "G35": r"multiple sclerosis", "G80.9": r"cerebral palsy", "F84.0": r"autism",
    "R62.50": r"developmental delay", "F10.930": r"alcohol withdrawal", "E16.2": r"hypoglyc(?:a)?emia",
    "R42": r"dizziness|vertigo",
}  # fmt: skip
#: A more specific code present drops the less specific one (epilepsy explains the seizures).
SUPERSEDES = {"G40.901": ("G40.909", "R56.9"), "G40.909": ("R56.9",)}

_SEX_WORDS = {
    "woman": "female", "female": "female", "girl": "female", "lady": "female", "f": "female",
    "man": "male", "male": "male", "boy": "male", "gentleman": "male", "m": "male",
}  # fmt: skip
_AGE_SEX = re.compile(
    r"\b(?P<age>\d{1,3}(?:\.\d+)?)\s*[- ]?\s*(?P<unit>years?|yrs?|y/?o|months?|mos?|weeks?|days?)\b"
    r"(?:[- ]?old)?[\s,-]*(?:(?:right|left)[- ]handed\s+|african[- ]american\s+|caucasian\s+|white\s+|black\s+)*"
    r"(?P<sex>woman|female|girl|lady|man|male|boy|gentleman|[FM])\b",
    re.I,
)
_UNIT_YEARS = {"month": 1 / 12, "mo": 1 / 12, "week": 7 / 365.25, "day": 1 / 365.25}
_NEGATED = re.compile(
    r"\b(?:no|not|denies|denied|without|negative for|free of|rule out|r/o)\b[\w\s/,'-]{0,40}$", re.I
)
_NO_MEDS = re.compile(r"^\s*(?:none|no medications?|nkda|n/a|unknown)\W*$", re.I)
_ATC_PATTERNS = [
    (code, re.compile(r"\b(?:" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names) + r")\b", re.I))
    for code, names in ATC.items()
]
# Reports wrap lines anywhere: a space in a keyword matches any run of whitespace.
_ICD_PATTERNS = [
    (code, re.compile(pattern.replace(" ", r"\s+"), re.I)) for code, pattern in ICD10_KEYWORDS.items()
]


def age_sex(text: str) -> tuple[float | None, str | None]:
    """Age (years) and sex from the first "<age> year old <sex>" phrase of ``text``; (None, None) without one."""
    match = _AGE_SEX.search(text)
    if not match:
        return None, None
    unit = match["unit"].lower().rstrip("s").replace("/", "")
    factor = next((f for prefix, f in _UNIT_YEARS.items() if unit.startswith(prefix)), 1.0)
    if unit in ("y", "yo", "yr", "year"):
        factor = 1.0
    return round(float(match["age"]) * factor, 2), _SEX_WORDS[match["sex"].lower()]


def medications_atc(text: str) -> list[str]:
    """ATC codes of the drugs named in a MEDICATIONS section (sorted, unique)."""
    if _NO_MEDS.match(text):
        return []
    return sorted({code for code, pattern in _ATC_PATTERNS if pattern.search(text)})


def _sentence_before(text: str, pos: int) -> str:
    # a sentence ends at a full stop, a semicolon or a blank line (single line breaks are wrapping)
    ends = [i + len(sep) for sep in (".", ";", "\n\n") if (i := text.rfind(sep, 0, pos)) >= 0]
    return text[max(ends, default=0) : pos]


def history_icd10(text: str) -> list[str]:
    """ICD-10 codes of the conditions named in a CLINICAL HISTORY (negated mentions skipped)."""
    codes = set()
    for code, pattern in _ICD_PATTERNS:
        if any(not _NEGATED.search(_sentence_before(text, m.start())) for m in pattern.finditer(text)):
            codes.add(code)
    for specific, generic in SUPERSEDES.items():
        if specific in codes:
            codes -= set(generic)
    return sorted(codes)
