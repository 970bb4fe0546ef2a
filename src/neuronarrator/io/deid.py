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
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
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
    """The EDF+ recording subfields we use (technician and admin code are read and dropped)."""

    start_date: date | None
    equipment: str | None


def parse_edf_recording(text: str) -> EdfRecordingField:
    """Split an EDF+ recording field (``Startdate 02-MAR-2002 EMG561 BK/JOP Sony. …``)."""
    parts = text.split()
    if len(parts) >= 2 and parts[0] == "Startdate":
        equipment = parts[4] if len(parts) >= 5 and parts[4].upper() != "X" else None
        return EdfRecordingField(_edf_date(parts[1]), equipment)
    return EdfRecordingField(None, None)


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
        device=recording.equipment,
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
    device = device_info.get("model") or device_info.get("type") or None
    return Header(
        subject_hash=subject_hash(str(code) if code is not None else None, name),
        age_years=age,
        sex=_MNE_SEX.get(subject.get("sex")),
        recording_year=meas_date.year if meas_date is not None else None,
        device=device,
    )


def scrub_description(description: str) -> str:
    """Hook for annotation texts (free text can hold names); returns the text unchanged for now."""
    return description


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
