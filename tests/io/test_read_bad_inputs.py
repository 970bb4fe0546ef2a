"""Bad inputs: each raises its own exception type, whose message names the file and the problem."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.io.edf_header import read_edf_header
from neuronarrator.io.errors import (
    CorruptFileError,
    EmptyFileError,
    FileMissingError,
    HeaderMismatchError,
    InputError,
    NoEEGChannelsError,
    RecordingTooShortError,
    SamplingRateError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from neuronarrator.io.read import read_recording

EEG_4 = ["EEG FP1-REF", "EEG C3-REF", "EEG O1-REF", "EEG CZ-REF"]


def _raises(kind: type[InputError], path: Path, *phrases: str, strict: bool = True) -> InputError:
    """Open ``path`` expecting exactly ``kind``; the message names the file and contains the phrases."""
    with pytest.raises(InputError) as caught:
        read_recording(path, strict=strict)
    error = caught.value
    assert type(error) is kind, f"expected {kind.__name__}, got {type(error).__name__}: {error}"
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert error.path == path
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return error


# ---------------------------------------------------------------- the file itself


def test_missing_file(tmp_path: Path) -> None:
    _raises(FileMissingError, tmp_path / "nowhere.edf", "no such file")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder.edf").mkdir()
    _raises(FileMissingError, tmp_path / "folder.edf", "not a regular file")


@pytest.mark.parametrize("name", ["empty.edf", "empty.vhdr", "empty.lay"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    _raises(EmptyFileError, tmp_path / name, "empty")


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not EEG")
    _raises(UnsupportedFormatError, path, "'.txt'", ".edf", ".vhdr", ".lay")


def test_random_bytes_named_edf(tmp_path: Path) -> None:
    path = tmp_path / "noise.edf"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _raises(CorruptFileError, path, "not an EDF/BDF file")


@pytest.mark.parametrize("suffix", [".set", ".fif", ".vhdr", ".eeg", ".lay", ".bdf"])
def test_random_bytes_in_other_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    error = _raises(CorruptFileError, path)
    assert any(text in error.problem for text in ("reader could not parse it", "not an EDF/BDF file", "not a valid MAT-file"))


def test_brainvision_data_file_opened_instead_of_header(write_eeg_file: Callable[..., Path]) -> None:
    vhdr = write_eeg_file("brainvision", ["Fp1", "Cz"], 200.0, 1.0)
    _raises(UnsupportedFormatError, vhdr.with_suffix(".eeg"), "BrainVision", ".vhdr")


def test_brainvision_missing_data_file(write_eeg_file: Callable[..., Path]) -> None:
    vhdr = write_eeg_file("brainvision", ["Fp1", "Cz"], 200.0, 1.0)
    vhdr.with_suffix(".eeg").unlink()
    _raises(FileMissingError, vhdr, "missing")


def test_persyst_missing_dat_file(write_eeg_file: Callable[..., Path]) -> None:
    lay = write_eeg_file("persyst", ["Fp1", "Cz"], 200.0, 1.0)
    lay.with_suffix(".dat").unlink()
    _raises(FileMissingError, lay, "missing")


# ---------------------------------------------------------------- EDF header against file size


def test_truncated_edf(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("cut.edf", EEG_4, 200.0, n_records=10, cut_bytes=3 * 1600 + 100)
    error = _raises(TruncatedFileError, path, "data stops after 6 of 10 declared records", "cut short")
    assert "header says 17,280 bytes, file has 12,380" in error.problem


def test_partial_final_record_counts_as_truncated(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("partial.edf", EEG_4, 200.0, n_records=10, cut_bytes=2)
    _raises(TruncatedFileError, path, "data stops after 9 of 10 declared records")


def test_header_says_more_records_than_the_file_holds(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("more.edf", EEG_4, 200.0, n_records=10, declared_records=12)
    _raises(TruncatedFileError, path, "data stops after 10 of 12 declared records")


def test_header_says_fewer_records_than_the_file_holds(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("fewer.edf", EEG_4, 200.0, n_records=10, declared_records=8)
    _raises(HeaderMismatchError, path, "declares 8 records", "3,200 bytes follow the last declared record")


def test_trailing_bytes_after_last_record(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("tail.edf", EEG_4, 200.0, n_records=10, extra_bytes=10)
    _raises(HeaderMismatchError, path, "10 bytes follow the last declared record")


def test_truncated_edf_opens_when_not_strict(
    write_raw_edf: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = write_raw_edf("cut.edf", EEG_4, 200.0, n_records=10, cut_bytes=3 * 1600 + 100)
    with caplog.at_level(logging.WARNING):
        rec = read_recording(path, strict=False)
    assert rec.n_times == 6 * 200  # the whole records present
    assert "cut short" in caplog.text


def test_unknown_record_count_with_whole_records_is_accepted(
    write_raw_edf: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = write_raw_edf("unknown.edf", EEG_4, 200.0, n_records=7, declared_records=-1)
    with caplog.at_level(logging.WARNING):
        rec = read_recording(path)
    assert rec.n_times == 7 * 200
    assert "-1" in caplog.text


def test_unknown_record_count_with_partial_record(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("unknown.edf", EEG_4, 200.0, n_records=7, declared_records=-1, cut_bytes=5)
    _raises(HeaderMismatchError, path, "-1 (unknown)", "not a whole number")


def test_header_cut_short(tmp_path: Path, write_raw_edf: Callable[..., Path]) -> None:
    whole = write_raw_edf("whole.edf", EEG_4, 200.0, n_records=1).read_bytes()
    path = tmp_path / "stub.edf"
    path.write_bytes(whole[:100])
    _raises(TruncatedFileError, path, "header stops after 100 of 256 bytes")
    path.write_bytes(whole[:600])
    _raises(TruncatedFileError, path, "declares 4 signals", "cut short")


def test_header_size_contradicts_signal_count(tmp_path: Path, write_raw_edf: Callable[..., Path]) -> None:
    data = bytearray(write_raw_edf("h.edf", EEG_4, 200.0, n_records=1).read_bytes())
    data[184:192] = b"9999    "
    path = tmp_path / "h.edf"
    path.write_bytes(bytes(data))
    _raises(HeaderMismatchError, path, "9,999 bytes long", "4 signals make 1,280")


def test_non_numeric_header_field(tmp_path: Path, write_raw_edf: Callable[..., Path]) -> None:
    data = bytearray(write_raw_edf("n.edf", EEG_4, 200.0, n_records=1).read_bytes())
    data[236:244] = b"lots    "
    path = tmp_path / "n.edf"
    path.write_bytes(bytes(data))
    _raises(CorruptFileError, path, "'number of data records' is 'lots', not a number")


def test_digital_minimum_not_below_maximum(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("d.edf", EEG_4, 200.0, n_records=1, digital=(100, 100))
    _raises(CorruptFileError, path, "digital minimum 100 is not below the digital maximum 100")


def test_zero_record_duration(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("z.edf", EEG_4, 200.0, n_records=1, record_duration_s=1.0)
    data = bytearray(path.read_bytes())
    data[244:252] = b"0       "
    path.write_bytes(bytes(data))
    _raises(CorruptFileError, path, "data record duration is 0 s")


def test_bdf_content_named_edf(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("really_bdf.edf", EEG_4, 200.0, n_records=2, bdf=True)
    assert read_edf_header(path).is_bdf
    _raises(CorruptFileError, path, "rename it to .bdf")


# ---------------------------------------------------------------- content (strict)


def test_no_eeg_channels(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("poly.edf", ["ECG", "EMG chin", "Resp chest", "X5"], 200.0, n_records=2)
    error = _raises(
        NoEEGChannelsError, path, "no EEG channel", "ecg: ECG", "emg: EMG chin", "resp: Resp chest"
    )
    assert "other: X5" in error.problem
    rec = read_recording(path, strict=False)  # opens when asked not to be strict
    assert rec.eeg_labels == []


def test_annotations_only_file(shared_data: Path) -> None:
    path = shared_data / "sleep-edf" / "SC4001EC-Hypnogram.edf"
    _raises(NoEEGChannelsError, path, "annotations only")


def test_eeg_sampled_too_slowly(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("slow.edf", EEG_4, 64.0, n_records=4)
    _raises(SamplingRateError, path, "harmonized signals need at least 100 Hz; this file's EEG is at 64 Hz")


def test_eeg_slow_but_other_channel_fast(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("mixed.edf", [*EEG_4, "ECG"], [64.0] * 4 + [256.0], n_records=4)
    _raises(SamplingRateError, path, "this file's EEG is at 64 Hz")


def test_zero_records(write_raw_edf: Callable[..., Path]) -> None:
    path = write_raw_edf("none.edf", EEG_4, 200.0, n_records=0)
    _raises(RecordingTooShortError, path, "no samples")


def test_non_edf_content_checks(write_eeg_file: Callable[..., Path]) -> None:
    path = write_eeg_file("fif", ["ECG", "EMG chin"], 200.0, 1.0)
    _raises(NoEEGChannelsError, path, "ecg: ECG")
    path = write_eeg_file("brainvision", ["Fp1", "Cz", "O1"], 64.0, 2.0, name="slow")
    _raises(SamplingRateError, path, "64 Hz")
