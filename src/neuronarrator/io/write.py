"""Write EEG arrays as EDF+ (or BDF+) files, atomically, through MNE's exporter (edfio backend).

Used by the phantom and the tests. The file appears complete or not at all: it is written to a hidden
temporary file in the destination folder and moved into place with :func:`os.replace`
(:func:`neuronarrator.io.atomic.atomic_output`).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.deid import EdfPatient
from neuronarrator.io.errors import OutputExistsError
from neuronarrator.io.recording import Event

logger = logging.getLogger(__name__)

_MNE_SEX = {"M": 1, "MALE": 1, "F": 2, "FEMALE": 2}


def _subject_info(patient: EdfPatient | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(patient, Mapping):
        patient = EdfPatient(**patient)
    info: dict[str, Any] = {}
    if patient.code and patient.code != "X":
        info["his_id"] = patient.code.replace(" ", "_")
    if patient.name and patient.name != "X":
        info["last_name"] = patient.name.replace(" ", "_")  # MNE joins first_middle_last with "_"
    sex = _MNE_SEX.get((patient.sex or "").upper())
    if sex is not None:
        info["sex"] = sex
    if patient.birthdate is not None:
        info["birthday"] = patient.birthdate
    return info


def _as_event(event: Event | tuple[float, float, str]) -> Event:
    return event if isinstance(event, Event) else Event(float(event[0]), float(event[1]), str(event[2]))


def write_edf(
    path: str | Path,
    data_uv: np.ndarray,
    sfreq_hz: float,
    ch_names: list[str] | tuple[str, ...],
    *,
    events: Iterable[Event | tuple[float, float, str]] = (),
    patient: EdfPatient | Mapping[str, Any] | None = None,
    start: datetime | date | None = None,
    device: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write signals in µV to an EDF+ file (BDF+ when ``path`` ends in ``.bdf``).

    Parameters
    ----------
    path : str or Path
        Destination, ``.edf`` or ``.bdf``.
    data_uv : ndarray, shape (n_chans, n_times)
        Samples in microvolts; must be finite. Each channel gets its own physical range (its min..max),
        so quantization is (max - min) / 65535 µV for EDF, / 16777215 for BDF.
    sfreq_hz : float
        Sampling rate in Hz, the same for every channel. ``n_times`` should be a whole number of
        seconds: otherwise MNE pads the last 1-s record with edge values and annotates the pad
        ``BAD_ACQ_SKIP``.
    ch_names : sequence of str
        Labels, at most 16 characters each (EDF limit), written as given (e.g. ``"EEG FP1-REF"``).
    events : iterable of Event or (onset_s, duration_s, description)
        Written as EDF+ annotations.
    patient : EdfPatient or mapping with keys code, sex, birthdate, name, optional
        The EDF+ patient field; None writes ``X X X X`` (anonymous).
    start : datetime or date, optional
        Recording start (UTC); None writes an unknown start date.
    device : str, optional
        Equipment code of the EDF+ recording field.
    overwrite : bool
        Replace an existing file; otherwise :class:`OutputExistsError`.

    Returns
    -------
    Path
        ``path``.
    """
    import mne

    path = Path(path)
    fmt = "bdf" if path.suffix.lower() == ".bdf" else "edf"
    data_uv = np.asarray(data_uv, dtype=np.float64)
    if data_uv.ndim != 2 or data_uv.shape[0] != len(ch_names):
        raise ValueError(f"data_uv must be (n_chans={len(ch_names)}, n_times), got {data_uv.shape}")
    if not np.isfinite(data_uv).all():
        raise ValueError("data_uv holds non-finite values")
    if not sfreq_hz > 0:
        raise ValueError(f"sfreq_hz must be positive, got {sfreq_hz}")
    too_long = [name for name in ch_names if len(name) > 16]
    if too_long:
        raise ValueError(f"EDF labels are at most 16 characters: {too_long}")
    if path.exists() and not overwrite:
        raise OutputExistsError(path)

    info = mne.create_info(list(ch_names), float(sfreq_hz), ch_types="eeg")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
    if patient is not None:
        with raw.info._unlock():
            raw.info["subject_info"] = _subject_info(patient)
    if start is not None:
        if not isinstance(start, datetime):
            start = datetime(start.year, start.month, start.day)
        raw.set_meas_date(start if start.tzinfo else start.replace(tzinfo=UTC))
    if device:
        with raw.info._unlock():
            raw.info["device_info"] = {"type": device.replace(" ", "_")}
    events = [_as_event(e) for e in events]
    if events:
        raw.set_annotations(
            mne.Annotations(
                [e.onset_s for e in events],
                [e.duration_s for e in events],
                [e.description for e in events],
                orig_time=raw.info["meas_date"],
            )
        )

    with atomic_output(path, force=overwrite) as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mne.export.export_raw(
            tmp, raw, fmt=fmt, physical_range="channelwise", overwrite=True, verbose="error"
        )
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; an EEG file is not a secret
    for item in caught:
        logger.debug("%s: MNE export: %s", path, item.message)
    logger.info("wrote %s (%d channels, %.1f s)", path, len(ch_names), data_uv.shape[1] / sfreq_hz)
    return path
