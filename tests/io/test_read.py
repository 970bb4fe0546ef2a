"""Reading files into a Recording: real data, every format, units, events, multi-rate EDF, de-identification."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.deid import (
    age_years,
    deid_salt,
    header_from_edf,
    parse_edf_patient,
    parse_edf_recording,
    subject_hash,
)
from neuronarrator.io.edf_header import read_edf_header
from neuronarrator.io.errors import NoEEGChannelsError, OutputExistsError
from neuronarrator.io.read import READERS, read_recording
from neuronarrator.io.write import write_edf

# ---------------------------------------------------------------- real data (../shared/data)


def test_eegmmi_run_has_64_channels_at_160_hz_and_all_19(shared_data: Path) -> None:
    rec = read_recording(shared_data / "eegmmidb" / "S001R01.edf")
    assert rec.format == "edf"
    assert len(rec.labels) == 64
    assert rec.sfreq_hz == 160.0
    assert rec.eeg_sfreq_hz == 160.0
    assert set(rec.channel_sfreq_hz.values()) == {160.0}
    assert rec.montage == "referential"
    by_canonical = {lab.canonical: lab.original for lab in rec.labels if lab.in_canonical_19}
    assert set(by_canonical) == set(CANONICAL_19)
    # EEGMMI already uses the modern names, padded with dots.
    assert by_canonical["T7"] == "T7.."
    assert by_canonical["P8"] == "P8.."
    assert by_canonical["Fp1"] == "Fp1."
    assert rec.duration_s == pytest.approx(60.0, abs=1.0)
    assert rec.raw.preload is False
    assert rec.header.recording_year == 2009
    assert rec.header.device == "BCI2000"
    assert rec.header.subject_hash is None  # "X X X X": nobody named


def test_eegmmi_annotations_become_events(shared_data: Path) -> None:
    rec = read_recording(shared_data / "eegmmidb" / "S001R04.edf")
    assert len(rec.events) == 30
    assert {e.description for e in rec.events} == {"T0", "T1", "T2"}
    onsets = [e.onset_s for e in rec.events]
    assert onsets[0] == pytest.approx(0.0)
    assert onsets == sorted(onsets)
    assert all(0 <= e.onset_s < rec.duration_s and e.duration_s > 0 for e in rec.events)


def test_sleep_edf_two_bipolar_eeg_derivations_at_100_hz(shared_data: Path) -> None:
    rec = read_recording(shared_data / "sleep-edf" / "SC4001E0-PSG_first300s.edf")
    assert rec.montage == "bipolar"  # Fpz-Cz and Pz-Oz are derivations, not referential electrodes
    assert [(lab.original, lab.canonical) for lab in rec.eeg_labels] == [
        ("EEG Fpz-Cz", "Fpz-Cz"),
        ("EEG Pz-Oz", "Pz-Oz"),
    ]
    assert rec.eeg_sfreq_hz == 100.0
    assert rec.sfreq_hz == 100.0  # the EEG is the fastest signal: MNE upsamples the 1 Hz ones
    assert rec.duration_s == pytest.approx(300.0)
    kinds = {lab.original: lab.kind for lab in rec.labels}
    assert kinds == {
        "EEG Fpz-Cz": "bipolar",
        "EEG Pz-Oz": "bipolar",
        "EOG horizontal": "eog",
        "Resp oro-nasal": "resp",
        "EMG submental": "emg",
        "Temp rectal": "temp",
        "Event marker": "event",
    }
    assert rec.channel_sfreq_hz["EOG horizontal"] == 100.0
    assert rec.channel_sfreq_hz["Resp oro-nasal"] == 1.0
    assert rec.channel_sfreq_hz["Temp rectal"] == 1.0
    assert rec.raw.get_channel_types() == ["eeg", "eeg", "eog", "resp", "emg", "temperature", "misc"]
    assert rec.header.sex == "female"
    assert rec.header.age_years == 33.0  # from the patient field "X F X Female_33yr"
    assert rec.header.recording_year == 1989
    assert rec.header.subject_hash is None


def test_real_eegmmi_data_are_plausible_microvolts(shared_data: Path) -> None:
    rec = read_recording(shared_data / "eegmmidb" / "S001R02.edf")
    data = rec.get_data_uv(["O1..", "O2.."], 0.0, 10.0)
    assert data.shape == (2, 1600)
    assert 1.0 < float(np.std(data)) < 500.0


def test_edf_header_of_real_file(shared_data: Path) -> None:
    header = read_edf_header(shared_data / "eegmmidb" / "S001R04.edf")
    assert (header.n_signals, header.n_records, header.record_duration_s) == (65, 125, 1.0)
    assert header.is_edf_plus and not header.is_bdf and not header.is_discontinuous
    assert header.header_bytes == 256 * 66
    assert header.labels[0] == "Fc5." and header.labels[-1] == "EDF Annotations"
    assert len(header.data_signals) == 64
    assert header.samples_per_record[:64] == (160,) * 64
    assert header.physical_dims[0] == "uV"
    assert header.n_records_in_file == 125
    assert "X X X X" not in repr(header)  # identification fields stay out of repr


# ---------------------------------------------------------------- files in each style and format


def test_tuh_style_edf(tuh_edf: Path) -> None:
    rec = read_recording(tuh_edf)
    assert rec.sfreq_hz == 250.0
    mapped = {lab.canonical: lab.original for lab in rec.labels if lab.in_canonical_19}
    assert set(mapped) == set(CANONICAL_19)
    assert mapped["T7"] == "EEG T3-REF" and mapped["P8"] == "EEG T6-REF"
    kinds = dict(zip(rec.raw.ch_names, rec.raw.get_channel_types(), strict=True))
    assert kinds["EEG EKG1-REF"] == "ecg"
    assert kinds["PHOTIC-REF"] == "misc"
    assert kinds["EEG FP1-REF"] == "eeg"
    assert rec.montage == "referential"


def test_nihon_kohden_style_labels(nihon_kohden_style_edf: Path) -> None:
    rec = read_recording(nihon_kohden_style_edf)
    assert {lab.canonical for lab in rec.labels if lab.in_canonical_19} == set(CANONICAL_19)
    assert [lab.kind for lab in rec.labels[-3:]] == ["other", "dc", "other"]
    assert rec.sfreq_hz == 500.0


def test_chbmit_style_bipolar_edf(chbmit_edf: Path) -> None:
    rec = read_recording(chbmit_edf)
    assert rec.montage == "bipolar"
    assert rec.sfreq_hz == 256.0
    assert len(rec.labels) == 23
    # MNE makes the repeated label unique; the repeat is not a second T8-P8.
    assert "T8-P8-0" in rec.raw.ch_names and "T8-P8-1" in rec.raw.ch_names
    derivations = [lab.canonical for lab in rec.eeg_labels]
    assert derivations.count("T8-P8") == 1
    assert "Fp1-F7" in derivations and "Cz-Pz" in derivations
    assert rec.eeg_sfreq_hz == 256.0


_TOLERANCE_UV = {  # worst-case error of a round trip, per format
    "edf": 0.01,  # 16 bit over each channel's range (about ±80 µV here)
    "bdf": 1e-4,
    "brainvision": 1e-3,  # float32
    "eeglab": 1e-3,
    "fif": 1e-3,
    "persyst": 0.026,  # int16 counts of 0.05 µV
}


@pytest.mark.parametrize("fmt", sorted(_TOLERANCE_UV))
def test_each_format_round_trips(
    fmt: str, write_eeg_file: Callable[..., Path], make_eeg_uv: Callable[..., np.ndarray]
) -> None:
    names = ["Fp1", "Fp2", "T3", "O1", "ECG"]
    data_uv = make_eeg_uv(len(names), 200.0, 5.0, seed=3)
    events = [(1.0, 0.5, "spike"), (3.25, 0.0, "eyes open")]
    path = write_eeg_file(fmt, names, 200.0, data_uv=data_uv, events=events)
    rec = read_recording(path)
    expected_format = {"brainvision": "brainvision", "eeglab": "eeglab", "fif": "fif"}.get(fmt, fmt)
    assert rec.format == expected_format
    assert rec.sfreq_hz == 200.0
    assert rec.n_times == data_uv.shape[1]
    assert [lab.canonical for lab in rec.labels[:4]] == ["Fp1", "Fp2", "T7", "O1"]
    assert rec.labels[4].kind == "ecg"
    assert rec.raw.preload is False
    got = rec.get_data_uv([lab.original for lab in rec.labels])
    np.testing.assert_allclose(got, data_uv, atol=_TOLERANCE_UV[fmt], rtol=0)
    # BrainVision marker texts come back as "<type>/<text>" ("Comment/spike"), MNE's convention.
    got_events = [(round(e.onset_s, 3), e.description.removeprefix("Comment/")) for e in rec.events]
    assert (1.0, "spike") in got_events and (3.25, "eyes open") in got_events


def test_known_sine_in_microvolts_survives_edf_quantization(tmp_path: Path) -> None:
    sfreq_hz, amplitude_uv = 256.0, 100.0
    t = np.arange(int(sfreq_hz * 4)) / sfreq_hz
    data_uv = np.vstack([amplitude_uv * np.sin(2 * np.pi * 10 * t), 37.5 * np.cos(2 * np.pi * 3 * t)])
    path = write_edf(tmp_path / "sine.edf", data_uv, sfreq_hz, ["Cz", "Pz"])
    got = read_recording(path).get_data_uv(["Cz", "Pz"])
    step_uv = (data_uv.max(axis=1) - data_uv.min(axis=1)) / 65535  # channelwise physical range, 16 bit
    assert np.all(np.abs(got - data_uv).max(axis=1) <= step_uv * 0.51)
    assert np.abs(got[0]).max() == pytest.approx(amplitude_uv, abs=step_uv[0])


def test_edf_plus_annotations_are_events(annotated_edf: Path) -> None:
    rec = read_recording(annotated_edf)
    assert [(e.onset_s, e.duration_s, e.description) for e in rec.events] == [
        (2.0, 1.0, "eyes closed"),
        (4.5, 0.0, "spike"),
        (7.25, 2.0, "photic 10 Hz"),
    ]


def test_multirate_edf_keeps_eeg_at_its_native_rate(multirate_edf: Path) -> None:
    rec = read_recording(multirate_edf)
    # The 500 Hz ECG would make MNE upsample all EEG to 500 Hz: it is left out instead.
    assert "ECG" not in rec.raw.ch_names
    assert rec.sfreq_hz == 200.0
    assert rec.eeg_sfreq_hz == 200.0
    assert rec.channel_sfreq_hz["Resp chest"] == 1.0  # slower channels are kept (upsampled by MNE)
    assert rec.channel_sfreq_hz["SpO2"] == 1.0
    assert rec.channel_sfreq_hz["EEG Fp1-REF"] == 200.0
    assert rec.n_times == 10 * 200
    with pytest.warns(RuntimeWarning, match="edge artifacts"):  # MNE upsamples the 1 Hz channel
        assert rec.get_data_uv(["EEG O2-REF", "Resp chest"], 0.0, 1.0).shape == (2, 200)


def test_bdf_reads_as_bdf(write_eeg_file: Callable[..., Path]) -> None:
    path = write_eeg_file("bdf", ["Fp1", "Fp2", "Cz"], 256.0, 2.0)
    header = read_edf_header(path)
    assert header.is_bdf and header.bytes_per_sample == 3
    rec = read_recording(path)
    assert rec.format == "bdf" and rec.sfreq_hz == 256.0


def test_readers_cover_all_supported_extensions() -> None:
    assert set(READERS) == {".edf", ".bdf", ".vhdr", ".set", ".fif", ".fif.gz", ".eeg", ".lay"}


def test_fif_gz_is_dispatched_to_the_fif_reader(
    tmp_path: Path, make_eeg_uv: Callable[..., np.ndarray]
) -> None:
    raw = mne.io.RawArray(
        make_eeg_uv(3, 200.0, 2.0) * 1e-6, mne.create_info(["Fp1", "Cz", "O2"], 200.0, "eeg")
    )
    path = tmp_path / "x_raw.fif.gz"
    raw.save(path, verbose="error")
    rec = read_recording(path)
    assert rec.format == "fif" and rec.n_times == 400


# ---------------------------------------------------------------- a 24-hour file opens from its header


def test_24_hour_edf_opens_without_reading_samples(
    write_raw_edf: Callable[..., Path],
    label_sets: dict[str, tuple[str, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = [f"EEG {ch}-REF" for ch in label_sets["standard_19"]]
    path = write_raw_edf("day.edf", labels, 100.0, n_records=86_400, sparse=True)
    assert path.stat().st_size == 256 * 20 + 86_400 * 19 * 100 * 2

    def no_reading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("samples were read while opening the file")

    monkeypatch.setattr(mne.io.edf.edf.RawEDF, "_read_segment_file", no_reading)
    monkeypatch.setattr(mne.io.BaseRaw, "_read_segment", no_reading)
    rec = read_recording(path)
    assert rec.raw.preload is False
    assert rec.duration_s == 86_400.0
    assert len(rec.eeg_labels) == 19


# ---------------------------------------------------------------- de-identification


_SECRETS = ("MCH-0234567", "0234567", "Haagse", "Harry", "1951", "MAY", "10:11:12", "2002-03-02")


def _assert_no_identifiers(rec: Any) -> None:
    places = {
        "header": repr(rec.header),
        "info": str(rec.raw.info),
        "info dict": repr(dict(rec.raw.info)),
        "subject_info": repr(rec.raw.info.get("subject_info")),
        "meas_date": repr(rec.raw.info["meas_date"]),
    }
    for where, text in places.items():
        for secret in _SECRETS:
            assert secret.lower() not in text.lower(), f"{secret!r} found in {where}: {text}"


def test_edf_header_identifiers_do_not_leave_the_reader(identified_edf: Path) -> None:
    assert b"Haagse_Harry" in identified_edf.read_bytes()[:256]  # the file does name the patient
    rec = read_recording(identified_edf)
    _assert_no_identifiers(rec)
    assert rec.header.sex == "female"
    assert rec.header.age_years == pytest.approx(50.8, abs=0.05)  # 02-MAY-1951 to 02-MAR-2002
    assert rec.header.recording_year == 2002
    assert rec.header.device == "Sony."
    assert rec.header.subject_hash is not None and len(rec.header.subject_hash) == 16
    int(rec.header.subject_hash, 16)
    assert rec.raw.info["meas_date"] is None
    assert dict(rec.raw.info["subject_info"]) == {"sex": 2}
    assert read_recording(identified_edf).header.subject_hash == rec.header.subject_hash  # stable


@pytest.mark.parametrize("fmt", ["fif", "persyst"])
def test_other_formats_identifiers_do_not_leave_the_reader(
    fmt: str, write_eeg_file: Callable[..., Path], identity: dict[str, Any]
) -> None:
    path = write_eeg_file(fmt, ["Fp1", "Cz", "O2"], 200.0, 2.0, identity=identity)
    rec = read_recording(path)
    _assert_no_identifiers(rec)
    assert rec.header.sex == "female"
    assert rec.header.recording_year == 2002
    assert rec.header.subject_hash is not None
    # Persyst writes 05/02/51 and MNE reads 2051: the reader moves it back a century.
    assert rec.header.age_years == pytest.approx(50.8, abs=0.05)
    if fmt == "fif":
        assert rec.raw.info["experimenter"] is None and rec.raw.info["description"] is None


def test_persyst_reader_prints_nothing(
    write_eeg_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_eeg_file("persyst", ["Fp1", "Cz"], 200.0, 1.0)  # unparseable birth date: MNE prints
    capsys.readouterr()
    rec = read_recording(path)
    assert capsys.readouterr().out == ""
    assert rec.header.age_years is None


def test_subject_hash_depends_on_salt_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    first = subject_hash("MCH-0234567", "Haagse_Harry")
    assert first == subject_hash("MCH-0234567", "Haagse_Harry")
    assert first != subject_hash("MCH-0234568", "Haagse_Harry")
    assert subject_hash("X", "X") is None and subject_hash(None, "") is None
    monkeypatch.setenv("NEURONARRATOR_DEID_SALT", "another-site")
    assert subject_hash("MCH-0234567", "Haagse_Harry") != first


def test_salt_file_is_made_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEURONARRATOR_DEID_SALT")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    salt = deid_salt()
    path = tmp_path / "neuronarrator" / "deid-salt"
    assert path.is_file() and len(salt) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert deid_salt() == salt


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("MCH-0234567 F 02-MAY-1951 Haagse_Harry", ("MCH-0234567", "F", "1951-05-02", "Haagse_Harry")),
        ("X X X X", ("X", "X", None, "X")),
        ("X F X Female_33yr", ("X", "F", None, "Female_33yr")),
        ("00000258 M 01-JAN-1978 00000258 Age:36", ("00000258", "M", "1978-01-01", "00000258")),
    ],
)
def test_parse_edf_patient(field: str, expected: tuple[Any, ...]) -> None:
    patient = parse_edf_patient(field)
    birth = patient.birthdate.isoformat() if patient.birthdate else None
    assert (patient.code, patient.sex, birth, patient.name) == expected
    assert "Haagse" not in repr(patient)


def test_plain_edf_free_text_patient_field_is_hashed_whole() -> None:
    header = header_from_edf("John Smith 1234", "some free text", None)
    assert header.subject_hash is not None
    assert header.sex is None and header.age_years is None and header.recording_year is None


def test_parse_edf_recording() -> None:
    parsed = parse_edf_recording("Startdate 02-MAR-2002 EMG561 BK/JOP Sony. MNC R Med/Ketr")
    assert parsed.start_date.isoformat() == "2002-03-02"
    assert parsed.equipment == "Sony."
    assert parse_edf_recording("Startdate X X X X").equipment is None


def test_tuh_style_age_in_patient_field_and_age_cap() -> None:
    header = header_from_edf("00000258 M X 00000258 Age:36", "Startdate 01-JAN-2014 X X X", None)
    assert (header.sex, header.age_years, header.recording_year) == ("male", 36.0, 2014)
    import datetime as dt

    assert age_years(dt.date(1900, 1, 1), dt.date(2000, 1, 1)) == 90.0  # Safe Harbor: >89 -> 90


# ---------------------------------------------------------------- writer


def test_write_edf_refuses_to_overwrite(tmp_path: Path, make_eeg_uv: Callable[..., np.ndarray]) -> None:
    data = make_eeg_uv(2, 100.0, 1.0)
    path = write_edf(tmp_path / "a.edf", data, 100.0, ["Cz", "Pz"])
    before = path.read_bytes()
    with pytest.raises(OutputExistsError) as caught:
        write_edf(path, data * 2, 100.0, ["Cz", "Pz"])
    assert "a.edf" in str(caught.value)
    assert path.read_bytes() == before
    write_edf(path, data * 2, 100.0, ["Cz", "Pz"], overwrite=True)
    assert path.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.edf"]  # no temporary files left


def test_write_edf_is_atomic_when_export_fails(
    tmp_path: Path, make_eeg_uv: Callable[..., np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_export(fname: Any, *args: Any, **kwargs: Any) -> None:
        Path(fname).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(mne.export, "export_raw", broken_export)
    with pytest.raises(OSError, match="disk full"):
        write_edf(tmp_path / "b.edf", make_eeg_uv(2, 100.0, 1.0), 100.0, ["Cz", "Pz"])
    assert list(tmp_path.iterdir()) == []


def test_write_edf_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_chans"):
        write_edf(tmp_path / "c.edf", np.zeros((3, 100)), 100.0, ["Cz", "Pz"])
    with pytest.raises(ValueError, match="non-finite"):
        write_edf(tmp_path / "c.edf", np.full((1, 100), np.nan), 100.0, ["Cz"])
    with pytest.raises(ValueError, match="16 characters"):
        write_edf(tmp_path / "c.edf", np.zeros((1, 100)), 100.0, ["a-label-far-too-long"])


@pytest.mark.parametrize("with_date", [True, False])
def test_fif_starting_after_zero_gives_onsets_from_the_first_sample(
    tmp_path: Path, make_eeg_uv: Callable[..., np.ndarray], with_date: bool
) -> None:
    import datetime as dt

    info = mne.create_info(["Fp1", "Cz", "O2"], 200.0, "eeg")
    raw = mne.io.RawArray(make_eeg_uv(3, 200.0, 2.0) * 1e-6, info, first_samp=1000, verbose="error")
    with raw.info._unlock():
        raw.info["device_info"] = {
            "type": "EEG",
            "model": "NK-1200",
            "serial": "SN-98765",
            "site": "St_Elsewhere",
        }
    if with_date:
        raw.set_meas_date(dt.datetime(2020, 5, 5, tzinfo=dt.UTC))
    # With orig_time, onsets count from the measurement date (first sample at 5 s); without, from the
    # first sample.
    onset_s = 5.5 if with_date else 0.5
    raw.set_annotations(mne.Annotations([onset_s], [1.0], ["x"], orig_time=raw.info["meas_date"]))
    raw.save(tmp_path / "late_raw.fif", verbose="error")
    rec = read_recording(tmp_path / "late_raw.fif")
    assert [(e.onset_s, e.description) for e in rec.events] == [(0.5, "x")]
    assert rec.header.device == "NK-1200"
    assert "SN-98765" not in repr(dict(rec.raw.info)) and "Elsewhere" not in repr(dict(rec.raw.info))


def test_hypnogram_annotations(shared_data: Path) -> None:
    from neuronarrator.io.read import read_annotations

    path = shared_data / "sleep-edf" / "SC4001EC-Hypnogram.edf"
    events = read_annotations(path)
    assert events[0].onset_s == 0.0
    assert all(e.description.startswith("Sleep stage") for e in events)
    assert {e.description for e in events} >= {"Sleep stage W", "Sleep stage 1", "Sleep stage 2"}
    assert all(e.duration_s % 30 == 0 for e in events)
    with pytest.raises(NoEEGChannelsError, match="annotations only"):
        read_recording(path, strict=False)  # not a recording, even when not strict
