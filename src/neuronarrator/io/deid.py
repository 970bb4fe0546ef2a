"""De-identification: the header facts we keep (:class:`Header`) and the scrubbing of MNE's ``info``.

What is kept: a salted hash of the patient's ID and name (so that recordings of one patient can be
grouped, e.g. for splits by patient, without the ID), age at the recording in years (rounded to 0.1;
ages above 89 are reported as 90, as HIPAA Safe Harbor asks), sex, the recording's year, and the
equipment named by the file. Everything else (name, ID, birth date, full dates, technician,
investigator, hospital codes) is dropped before a :class:`~neuronarrator.io.recording.Recording` leaves
the reader: :func:`scrub_raw` removes it from ``raw.info``.

The salt comes from the environment variable ``NEURONARRATOR_DEID_SALT`` or else from a random salt made
once per user and kept (mode 0600) at ``$XDG_CONFIG_HOME/neuronarrator/deid-salt`` (default
``~/.config``). Hashes are therefore stable for one user or one deployment and unlinkable across them.

EDF+ identification fields (EDF+ spec, section 2.1.3): patient ``code sex birthdate name [more…]``, e.g.
``MCH-0234567 F 02-MAY-1951 Haagse_Harry``; recording ``Startdate dd-MMM-yyyy admincode technician
equipment [more…]``; ``X`` marks an unknown subfield. Plain EDF files put free text there.

Privacy policy (what may leave the reader; tested end to end by ``tests/io/test_privacy.py``):

* Header fields: only the :class:`Header` facts above. The equipment subfield is free text too (a site or
  a person can be named there), so :func:`safe_device` keeps only its tokens that name a device: known
  vendor/product words, or model codes with at most 4 digits in a row (longer runs may be serial numbers,
  a Safe Harbor identifier); every other token is dropped, and the field is dropped when nothing is left.
* Annotation texts (:func:`scrub_description`, applied by the reader to every event and to the
  annotations kept on ``raw``): an allowlist. A word is kept only if it is in the EEG annotation
  vocabulary (:data:`ANNOTATION_WORDS`, the mapping tables of :mod:`neuronarrator.clinical.mappings`,
  10-10 electrode names, sleep stages, eegmmidb's T0/T1/T2, numbers of up to 3 digits, numbers with
  units such as ``14Hz``); anything else (names, IDs, long numbers, dates) becomes ``[redacted]``. On
  top of that every occurrence of the file's own identifiers (:func:`edf_identifiers`,
  :func:`info_identifiers`: patient code, name and its parts, birth date in the usual spellings, admin
  code, technician, free-text subfields, recording dates) is redacted even where it is a vocabulary word.
* Known weakness: a name that is also a vocabulary word ("Wake", "Rest") and is not in the header survives.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from neuronarrator.io.recording import Header

logger = logging.getLogger(__name__)

SALT_ENV = "NEURONARRATOR_DEID_SALT"
MAX_REPORTED_AGE_YEARS = 90.0

_SEX_WORDS = {"M": "male", "MALE": "male", "F": "female", "FEMALE": "female"}
_MNE_SEX = {1: "male", 2: "female"}  # FIFF codes; 0 = unknown
# Age written somewhere in the patient field, e.g. TUH's "Age:36" or Sleep-EDF's "Female_33yr".
_AGE_IN_TEXT = re.compile(r"(?:\bAge[:=]\s*(\d{1,3})\b|(?:^|_)(\d{1,3})\s*(?:yr|yrs|years?|y)\b)", re.I)


def _salt_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "neuronarrator" / "deid-salt"


def deid_salt() -> bytes:
    """The salt for subject hashes: ``$NEURONARRATOR_DEID_SALT``, else the per-user salt file (made once)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    path = _salt_path()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(salt)
    logger.info("made a new de-identification salt at %s", path)
    return salt


def subject_hash(code: str | None, name: str | None, *, salt: bytes | None = None) -> str | None:
    """Salted SHA-256 of patient ID + name, first 16 hex characters; None when both are unknown."""
    code = (code or "").strip()
    name = (name or "").strip()
    code = "" if code.upper() == "X" else code
    name = "" if name.upper() == "X" else name
    if not code and not name:
        return None
    salt = deid_salt() if salt is None else salt
    digest = hashlib.sha256(salt + b"\x1f" + code.encode("utf-8") + b"\x1f" + name.encode("utf-8"))
    return digest.hexdigest()[:16]


def age_years(birth: date, at: date) -> float:
    """Age in years (0.1 resolution) at ``at``; ages above 89 are reported as 90 (Safe Harbor)."""
    years = (at - birth).days / 365.2425
    return min(round(years, 1), MAX_REPORTED_AGE_YEARS)


def _edf_date(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%d-%b-%Y").date()
    except ValueError:
        return None


def _age_from_text(parts: list[str]) -> float | None:
    for part in parts:
        match = _AGE_IN_TEXT.search(part)
        if match:
            years = float(match.group(1) or match.group(2))
            return min(years, MAX_REPORTED_AGE_YEARS)
    return None


@dataclass(frozen=True)
class EdfPatient:
    """The EDF+ patient subfields. Identifying: never log it; its ``repr`` shows no values."""

    code: str = field(default="X", repr=False)
    sex: str = field(default="X", repr=False)  # "M", "F" or "X"
    birthdate: date | None = field(default=None, repr=False)
    name: str = field(default="X", repr=False)
    additional: tuple[str, ...] = field(default=(), repr=False)
    is_structured: bool = True  # False: the field was free text (plain EDF), kept whole in ``name``

    def to_field(self) -> str:
        """The 80-character EDF+ patient field (spaces inside subfields become ``_``)."""
        birth = self.birthdate.strftime("%d-%b-%Y").upper() if self.birthdate else "X"
        parts = [self.code, self.sex, birth, self.name, *self.additional]
        return " ".join((p or "X").replace(" ", "_") for p in parts)


def parse_edf_patient(text: str) -> EdfPatient:
    """Split an EDF(+) patient field. A field not in the EDF+ layout is kept whole as free text."""
    parts = text.split()
    if len(parts) >= 4 and parts[1].upper() in ("M", "F", "X"):
        birth = _edf_date(parts[2])
        if birth is not None or parts[2].upper() == "X":
            return EdfPatient(parts[0], parts[1].upper(), birth, parts[3], tuple(parts[4:]))
    return EdfPatient(name=text.strip() or "X", is_structured=False)


@dataclass(frozen=True)
class EdfRecordingField:
    """The EDF+ recording subfields (admin code, technician and the rest are identifying: never shown)."""

    start_date: date | None
    equipment: str | None = field(repr=False)  # raw: pass through :func:`safe_device` before keeping it
    admincode: str = field(default="X", repr=False)
    technician: str = field(default="X", repr=False)
    additional: tuple[str, ...] = field(default=(), repr=False)
    is_structured: bool = True  # False: free text (plain EDF), kept whole in ``additional``


def parse_edf_recording(text: str) -> EdfRecordingField:
    """Split an EDF+ recording field (``Startdate 02-MAR-2002 EMG561 BK/JOP Sony. …``)."""
    parts = text.split()
    if len(parts) >= 2 and parts[0] == "Startdate":
        equipment = parts[4] if len(parts) >= 5 and parts[4].upper() != "X" else None
        admincode = parts[2] if len(parts) >= 3 else "X"
        technician = parts[3] if len(parts) >= 4 else "X"
        return EdfRecordingField(_edf_date(parts[1]), equipment, admincode, technician, tuple(parts[5:]))
    return EdfRecordingField(
        None, None, additional=(text.strip(),) if text.strip() else (), is_structured=False
    )


def header_from_edf(patient_field: str, recording_field: str, header_start: datetime | None) -> Header:
    """:class:`Header` from the raw EDF(+) patient and recording fields and the header's start date."""
    patient = parse_edf_patient(patient_field)
    recording = parse_edf_recording(recording_field)
    start = recording.start_date or (header_start.date() if header_start else None)
    age = None
    if patient.birthdate is not None and start is not None and patient.birthdate <= start:
        age = age_years(patient.birthdate, start)
    elif patient.is_structured:
        age = _age_from_text([patient.name, *patient.additional])
    else:
        age = _age_from_text([patient.name])

    if patient.is_structured:
        # A "name" that only says sex/age (Sleep-EDF's "Female_33yr") identifies nobody: do not hash it.
        name = patient.name if _AGE_IN_TEXT.search(patient.name) is None else "X"
        digest = subject_hash(patient.code, name)
        sex = _SEX_WORDS.get(patient.sex)
    else:
        digest = subject_hash(None, patient.name)
        sex = None
    return Header(
        subject_hash=digest,
        age_years=age,
        sex=sex,
        recording_year=start.year if start else None,
        device=safe_device(
            recording.equipment, edf_identifiers(patient_field, recording_field, header_start)
        ),
    )


def header_from_info(info: Any) -> Header:
    """:class:`Header` from an MNE ``Info`` (``subject_info``, ``meas_date``, ``device_info``)."""
    subject = dict(info.get("subject_info") or {})
    meas_date = info.get("meas_date")
    name = "_".join(str(subject[k]) for k in ("first_name", "middle_name", "last_name") if subject.get(k))
    code = subject.get("his_id")
    if code is None and subject.get("id") not in (None, 0):
        code = str(subject["id"])
    birthday = subject.get("birthday")
    if isinstance(birthday, datetime):
        birthday = birthday.date()
    age = None
    if isinstance(birthday, date) and meas_date is not None:
        at = meas_date.date()
        if birthday > at and age_years(birthday.replace(year=birthday.year - 100), at) < 90:
            # Persyst writes birth dates as mm/dd/yy and MNE reads "51" as 2051: move it back a century.
            birthday = birthday.replace(year=birthday.year - 100)
        if birthday <= at:
            age = age_years(birthday, at)
    device_info = info.get("device_info") or {}
    device = safe_device(device_info.get("model") or device_info.get("type") or None, info_identifiers(info))
    return Header(
        subject_hash=subject_hash(str(code) if code is not None else None, name),
        age_years=age,
        sex=_MNE_SEX.get(subject.get("sex")),
        recording_year=meas_date.year if meas_date is not None else None,
        device=device,
    )


def scrub_raw(raw: Any, header: Header) -> None:
    """Remove identifiers from ``raw.info`` in place (no samples are read).

    After this, ``raw.info`` holds no name, ID, birth date, measurement date, experimenter,
    description, file/measurement IDs or device serial/site; ``subject_info`` keeps only ``sex``.
    Annotations keep their onsets relative to the first sample.
    """
    raw.anonymize(daysback=None, keep_his=False, verbose="error")
    raw.set_meas_date(None)
    info = raw.info
    sex_code = {"male": 1, "female": 2}.get(header.sex or "")
    with info._unlock():
        info["subject_info"] = {"sex": sex_code} if sex_code else None
        for key in ("experimenter", "description", "proj_name", "file_id", "meas_id", "helium_info"):
            if key in info:
                info[key] = None
        if info.get("proj_id") is not None:
            info["proj_id"] = None
        if info.get("device_info"):
            kept = {k: v for k, v in info["device_info"].items() if k in ("type", "model")}
            info["device_info"] = kept or None
        info["utc_offset"] = None


# --------------------------------------------------------------------------------- annotation texts

#: What replaces a redacted run of text in annotation texts.
REDACTED = "[redacted]"

#: Words an EEG annotation may keep (lower case; a plural in ``s``/``es`` of a word here is kept too).
#: Event and task names (eyes open/closed, hyperventilation, photic stimulation, sleep staging, eegmmidb's
#: rest/imagery runs), findings and artifacts, recording events (impedance, calibration, montage, filter),
#: location words, and the short function words that join them. The mapping tables of
#: :mod:`neuronarrator.clinical.mappings` (SCORE/ACNS, TUEV, TUSZ, TUAB, Sleep-EDF) are added to this.
#: No month names, no colours, no titles ("dr", "mr"): names and dates are never kept.
ANNOTATION_WORDS = frozenset(
    """
    a an the of and or with without to at in on off for by from during after before while into no not
    is was be are per vs x
    start started end ended stop stopped begin beginning onset offset resume resumed pause paused
    recording record study session test tests trial epoch segment event events marker note comment
    eye eyes open opened opening close closed closing blink blinks blinking eo ec
    hyperventilation hv photic stimulation stimulus stim ips flash flashes flashing strobe light lights
    sleep stage wake awake drowsy drowsiness asleep arousal arousals movement movements time unscored
    n1 n2 n3 n4 rem nrem sws
    rest resting baseline task imagery imagined imagine motor real fist fists feet foot hand hands both
    arm arms leg legs head body jaw tongue face mouth talking talk speaking chewing swallowing swallow
    cough coughing yawn yawning sneeze crying cry laughing snoring sucking shivering tremor jerk jerks
    moved moving move moves turned turning sitting supine standing lying position repositioned
    room bed bedside
    entered exited mother father family visitor phone
    patient pt subject nurse staff parent tech technologist clinician physician examiner
    seizure seizures clinical subclinical electrographic electroclinical aura ictal interictal postictal
    preictal spell spells event push button pressed alarm detection detected detector
    spike spikes sharp wave waves spindle spindles complex complexes slow slowing slowed polyspike
    discharge discharges epileptiform periodic rhythmic activity rhythm burst bursts suppression
    artifact artifacts artefact artefacts muscle emg ecg ekg eog electrode electrodes pop impedance
    impedances check checked calibration cal montage change changed changes sensitivity filter filters
    notch lff hff gain reference ref average bipolar referential channel channels lead leads loose
    disconnected reconnected reapplied fixed bad noisy noise line power
    medication medicine drug dose given injection iv sedation sedated sedative anesthesia
    left right bilateral bilaterally midline generalized generalised diffuse focal multifocal regional
    lateralized independent independently frontal central temporal parietal occipital frontotemporal
    centrotemporal frontocentral temporoparietal parieto occipito fronto temporo centro anterior
    posterior mid hemisphere hemispheres hemispheric region max maximal maximum predominant predominance
    over greater than less more possible probable definite likely unclear questionable suspected
    hz sec secs second seconds s ms min mins minute minutes h hr hrs hour hours uv mv
    alpha beta theta delta gamma mu lambda vertex frequency amplitude high low fast
    normal abnormal awake unknown other misc none yes
    """.split()
)
#: Single letters kept: sleep stages (W, R), sides (L, R), movement (M), the "s" of "patient's", "a".
_SINGLE_LETTERS = frozenset("wrlmnsax")
# 10-10 electrode names (and the ear/mastoid/inion ones), eegmmidb's T0/T1/T2, R&K stages S1-S4.
_ELECTRODE_TOKEN = re.compile(r"(?:FP|AF|FT|FC|TP|CP|PO|SP|F|C|T|P|O|A|M|I|N|S)(?:\d{1,2}|Z)", re.I)
# A number with a unit glued on ("14Hz", "30s", "200uV").
_NUMBER_UNIT = re.compile(r"\d{1,3}(?:hz|s|sec|ms|min|h|uv|µv|mv|x)", re.I)
# Numbers joined by punctuation are judged whole: "9.5" and "10:32" are kept, "12.345.678" is not.
_NUMBER_GROUP = re.compile(r"\d+(?:[.,:/\-]\d+)+")
_SAFE_NUMBER_GROUP = re.compile(
    r"\d{1,3}(?:[.,]\d{1,3})?|\d{1,3}-\d{1,3}|\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?"
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Dates in any common spelling: 02-MAY-1951, 2 May 1951, May 2, 1951, 1951-05-02, 02.05.1951, 02/05/51.
_DATE = re.compile(
    rf"\b\d{{1,2}}[\s\-./_]*{_MONTHS}[\s\-./_,]*\d{{2,4}}\b|\b{_MONTHS}[\s\-./_]*\d{{1,2}}(?:st|nd|rd|th)?,?"
    rf"[\s\-./_]*\d{{2,4}}\b|\b\d{{4}}[\-./]\d{{1,2}}[\-./]\d{{1,2}}\b"
    rf"|\b\d{{1,2}}[\-./]\d{{1,2}}[\-./]\d{{2,4}}\b",
    re.I,
)
_WORD = re.compile(r"[^\W_]+")
# What may separate two redacted runs that then become one marker.
_JOIN = re.compile(r"[\s_\-.,'’/:;]*")
_SPLIT = re.compile(r"[\s_,.;:/()\[\]]+")


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    from neuronarrator.clinical import mappings  # late: clinical imports io

    words = set(ANNOTATION_WORDS)
    for table in (
        mappings.SCORE_TERMS,
        mappings.TUEV_LABELS,
        mappings.TUSZ_LABELS,
        mappings.TUAB_LABELS,
        mappings.SLEEP_EDF_STAGES,
    ):
        for key in table:
            words.update(w.lower() for w in _WORD.findall(str(key)))
    return frozenset(words)


def _is_vocabulary(word: str) -> bool:
    lower = word.lower()
    vocabulary = _vocabulary()
    if len(lower) == 1:
        return lower in _SINGLE_LETTERS or lower.isdigit()
    if lower in vocabulary:
        return True
    return (lower.endswith("s") and lower[:-1] in vocabulary) or (
        lower.endswith("es") and lower[:-2] in vocabulary
    )


def _allowed_word(word: str) -> bool:
    if word.isdigit():
        return len(word) <= 3
    return bool(_is_vocabulary(word) or _ELECTRODE_TOKEN.fullmatch(word) or _NUMBER_UNIT.fullmatch(word))


def _date_forms(day: date) -> list[str]:
    forms = [
        day.strftime(f)
        for f in (
            "%d-%b-%Y",
            "%Y-%m-%d",
            "%d.%m.%Y",
            "%d/%m/%Y",
            "%m/%d/%Y",
            "%Y%m%d",
            "%d%m%Y",
            "%m%d%Y",
            "%d.%m.%y",
            "%d/%m/%y",
            "%m/%d/%y",
            "%d %B %Y",
            "%B %d, %Y",
            "%d%b%Y",
        )
    ]
    forms += [
        f"{day.day}.{day.month}.{day.year}",
        f"{day.day}/{day.month}/{day.year}",
        f"{day.month}/{day.day}/{day.year}",
        f"{day.day}-{day.month}-{day.year}",
    ]
    return forms


def _with_parts(text: str, *, keep_vocabulary: bool) -> list[str]:
    """``text`` and its words (2 characters or more); vocabulary words left out if ``keep_vocabulary``."""
    text = text.strip()
    if not text or text.upper() == "X":
        return []
    out = [text]
    for part in _SPLIT.split(text):
        part = part.strip("-'")
        if len(part) >= 2 and part.upper() != "X" and not (keep_vocabulary and _allowed_word(part)):
            out.append(part)
    return out


def edf_identifiers(
    patient_field: str, recording_field: str, header_start: datetime | None = None
) -> tuple[str, ...]:
    """Every identifying string of an EDF(+) header, for :func:`scrub_description` and :func:`safe_device`.

    The patient code and name (whole and by parts) are identifiers even where they are ordinary words;
    free text (plain EDF fields, additional subfields) gives its words that are not EEG vocabulary.
    Dates (birth date, start dates) come in their usual spellings. Sex and ``X`` are not identifiers.
    """
    patient = parse_edf_patient(patient_field)
    recording = parse_edf_recording(recording_field)
    out: list[str] = []
    if patient.is_structured:
        out += _with_parts(patient.code, keep_vocabulary=False) + _with_parts(
            patient.name, keep_vocabulary=False
        )
        for extra in patient.additional:
            out += _with_parts(extra, keep_vocabulary=True)
    else:
        out += _with_parts(patient.name, keep_vocabulary=True)
    out += _with_parts(recording.admincode, keep_vocabulary=False)
    out += _with_parts(recording.technician, keep_vocabulary=False)
    for extra in recording.additional:
        out += _with_parts(extra, keep_vocabulary=True)
    for day in (patient.birthdate, recording.start_date, header_start.date() if header_start else None):
        if day is not None:
            out += _date_forms(day)
    return tuple(dict.fromkeys(out))


def info_identifiers(info: Any) -> tuple[str, ...]:
    """Every identifying string of an MNE ``Info`` (subject, experimenter, description, dates)."""
    subject = dict(info.get("subject_info") or {})
    out: list[str] = []
    for key in ("first_name", "middle_name", "last_name", "his_id"):
        if subject.get(key):
            out += _with_parts(str(subject[key]), keep_vocabulary=False)
    if subject.get("id") not in (None, 0):
        out.append(str(subject["id"]))
    for key in ("experimenter", "description", "proj_name"):
        if info.get(key):
            out += _with_parts(str(info[key]), keep_vocabulary=True)
    birthday = subject.get("birthday")
    meas_date = info.get("meas_date")
    for day in (birthday, meas_date):
        if isinstance(day, datetime):
            day = day.date()
        if isinstance(day, date):
            out += _date_forms(day)
    return tuple(dict.fromkeys(o for o in out if len(o) >= 2))


def _identifier_pattern(identifier: str) -> re.Pattern[str]:
    # Spaces and underscores are one (EDF+ writes spaces as "_"); short ones match whole words only.
    body = r"[\s_]+".join(re.escape(p) for p in re.split(r"[\s_]+", identifier.strip()) if p)
    if len(identifier) < 4:
        body = rf"(?<![^\W_]){body}(?![^\W_])"
    return re.compile(body, re.I)


def scrub_description(description: str, identifiers: Iterable[str] = ()) -> str:
    """An annotation text with everything but EEG vocabulary replaced by ``[redacted]`` (module docstring).

    ``identifiers`` (from :func:`edf_identifiers` or :func:`info_identifiers`) are redacted wherever they
    occur, also inside words and where they are vocabulary. Runs of redacted words become one marker.
    "Sleep stage W", "T1", "eyes closed", "photic 14 Hz", "LPDs right temporal" pass unchanged.
    """
    text = unicodedata.normalize("NFKC", description)
    spans: list[tuple[int, int]] = []
    for identifier in identifiers:
        if len(identifier.strip()) >= 2:
            spans += [m.span() for m in _identifier_pattern(identifier).finditer(text)]
    spans += [m.span() for m in _DATE.finditer(text)]
    spans += [m.span() for m in _NUMBER_GROUP.finditer(text) if not _SAFE_NUMBER_GROUP.fullmatch(m.group())]
    spans += [m.span() for m in _WORD.finditer(text) if not _allowed_word(m.group())]
    spans = [(a, b) for a, b in spans if b > a]
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or _JOIN.fullmatch(text, merged[-1][1], start)):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out += [text[last:start], REDACTED]
        last = end
    out.append(text[last:])
    return "".join(out)


#: Words of device names kept in :attr:`Header.device` (lower case): EEG vendors and product lines.
DEVICE_WORDS = frozenset(
    """
    nihon kohden neurofax natus xltek neuroworks grass telefactor twin comet compumedics profusion
    neuroscan micromed cadwell easy arc brain products brainvision brainamp actichamp liveamp neuroscan
    biosemi activetwo egi geodesic netamps gtec g.tec usbamp ant eego asalab deltamed coherence persyst
    stellate harmonie embla nicolet viasys bci2000 medelec sony neuron spectrum mitsar bitbrain emotiv
    openbci cognionics wearable enobio neuroelectrics nox somnomedics alice philips respironics
    eeg psg amplifier amp system digital portable ambulatory video headbox recorder cassette
    """.split()
)


def safe_device(equipment: str | None, identifiers: Iterable[str] = ()) -> str | None:
    """The device a header names, reduced to its device-naming tokens (module docstring); None if none."""
    if not equipment:
        return None
    banned = {i.lower() for i in identifiers}
    kept = []
    for token in re.split(r"[\s_]+", equipment.strip()):
        bare = token.strip(".,;:()")
        if not bare or bare.lower() in banned or bare.upper() == "X":
            continue
        digits = max((len(run) for run in re.findall(r"\d+", bare)), default=0)
        model_code = re.fullmatch(r"[A-Za-z]{0,8}[-.]?\d{1,4}[A-Za-z]{0,3}", bare) is not None and digits <= 4
        if bare.lower() in DEVICE_WORDS or model_code:
            kept.append(token)
    return " ".join(kept) or None
