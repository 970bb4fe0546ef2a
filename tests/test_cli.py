"""The command line as a user meets it: results on stdout, one line per problem on stderr, no tracebacks,
no half-written outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.cli import main
from neuronarrator.io.channels import CANONICAL_19


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_real_eegmmi_json(capsys, shared_data: Path) -> None:
    code, out, err = run(capsys, "inspect", shared_data / "eegmmidb/S001R02.edf", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sfreq_hz"] == 160.0
    assert summary["channels_used"] == list(CANONICAL_19)
    assert summary["channels_missing"] == []
    assert "FC5" in summary["channels_extra_eeg"]
    assert summary["quality"]["bad_channels"] == []
    assert summary["quality"]["sampled"] is False  # 60 s: judged whole


def test_inspect_text_names_missing_channels_and_kinds(capsys, write_eeg_file) -> None:
    labels = [ch for ch in CANONICAL_19 if ch not in ("O1", "T8")] + ["ECG", "EOG left"]
    path = write_eeg_file("edf", labels, 256.0, 30.0)
    code, out, err = run(capsys, "inspect", path)
    assert code == 0, err
    assert "17 of 19" in out and "missing: T8, O1" in out
    assert "ecg: ECG" in out and "eog: EOG left" in out


def test_inspect_bipolar_sleep_edf(capsys, shared_data: Path) -> None:
    code, out, err = run(capsys, "inspect", shared_data / "sleep-edf/SC4001E0-PSG_first300s.edf", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["montage"] == "bipolar"
    assert summary["channels_extra_eeg"] == ["Fpz-Cz", "Pz-Oz"]
    assert summary["sfreq_hz"] == 100.0
    assert summary["header"]["sex"] == "female"


@pytest.mark.slow
def test_inspect_24_hour_file_samples_instead_of_reading_everything(capsys, write_raw_edf, monkeypatch) -> None:
    path = write_raw_edf("day.edf", list(CANONICAL_19), 100.0, 24 * 3600)
    from neuronarrator.io.recording import Recording

    seconds_read = []
    original = Recording.get_data_uv

    def counting(self, originals, start_s=0.0, stop_s=None):
        seconds_read.append((stop_s if stop_s is not None else self.duration_s) - start_s)
        return original(self, originals, start_s, stop_s)

    monkeypatch.setattr(Recording, "get_data_uv", counting)
    code, out, err = run(capsys, "inspect", path, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["duration_s"] == 24 * 3600
    assert summary["quality"]["sampled"] is True
    assert sum(seconds_read) <= 200.0  # a bounded sample, not the day


def test_spectrogram_writes_npz_and_never_overwrites(capsys, shared_data: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "r02.npz"
    code, out, err = run(capsys, "spectrogram", shared_data / "eegmmidb/S001R02.edf", "--out", out_path)
    assert code == 0, err
    with np.load(out_path) as z:
        assert z["log_psd"].shape == (19, 161, 56)  # 60 s -> 56 windows of 5 s every 1 s
        assert list(z["channels"]) == list(CANONICAL_19)
        assert json.loads(str(z["meta"]))["harmonization"]["sfreq_hz"] == 200.0
        alpha = (z["freqs_hz"] >= 8) & (z["freqs_hz"] <= 12)
        o1 = list(z["channels"]).index("O1")
        peak_hz = z["freqs_hz"][alpha][z["log_psd"][o1][alpha].mean(axis=1).argmax()]
        assert 9.0 <= peak_hz <= 11.0  # eyes closed: posterior alpha
    before = out_path.read_bytes()
    code, _, err = run(capsys, "spectrogram", shared_data / "eegmmidb/S001R02.edf", "--out", out_path)
    assert code != 0 and "--force" in err and out_path.read_bytes() == before
    code, _, err = run(capsys, "spectrogram", shared_data / "eegmmidb/S001R02.edf", "--out", out_path, "--force")
    assert code == 0, err


def test_usage_errors_are_not_tracebacks(capsys) -> None:
    code, _, err = run(capsys, "inspect")
    assert code == 2 and "Missing argument" in err and "Traceback" not in err
    code, _, err = run(capsys, "no-such-command")
    assert code == 2 and "Traceback" not in err


# --- bad inputs: one clear line naming the file and the problem, non-zero exit, no output ------------------
def _nan_channel_fif(write_eeg_file, make_eeg_uv) -> Path:
    data = make_eeg_uv(19, 200.0, 20.0)
    data[17] = np.nan
    return write_eeg_file("fif", list(CANONICAL_19), 200.0, 20.0, data_uv=data)


def _flat_fif(write_eeg_file, make_eeg_uv) -> Path:
    return write_eeg_file("fif", list(CANONICAL_19), 200.0, 20.0, data_uv=np.full((19, 4000), 3.0))


BAD_INPUTS: dict[str, tuple[Callable[..., Path], str]] = {
    "empty": (lambda tmp, **_: _touch(tmp / "empty.edf", b""), "empty"),
    "random bytes": (lambda tmp, **_: _touch(tmp / "noise.edf", np.random.default_rng(0).bytes(5000)), "not an EDF"),
    "truncated": (lambda tmp, raw, **_: raw("cut.edf", list(CANONICAL_19), 200.0, 30, cut_bytes=5000), "cut short"),
    "lying header": (lambda tmp, raw, **_: raw("lie.edf", list(CANONICAL_19), 200.0, 30, declared_records=20), "records"),
    "all-NaN channel": (lambda tmp, eeg, make, **_: _nan_channel_fif(eeg, make), "O1 holds no finite samples"),
    "all flat": (lambda tmp, eeg, make, **_: _flat_fif(eeg, make), "flat"),
    "no EEG": (lambda tmp, raw, **_: raw("noeeg.edf", ["ECG", "EMG chin", "Resp"], 200.0, 30), "no EEG"),
    "64 Hz": (lambda tmp, raw, **_: raw("slow.edf", list(CANONICAL_19), 64.0, 30), "64 Hz"),
    "wrong format": (lambda tmp, **_: _touch(tmp / "notes.txt", b"EEG report"), "unsupported"),
    "missing": (lambda tmp, **_: tmp / "absent.edf", "no such file"),
}


def _touch(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("command", ["inspect", "spectrogram"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_no_output(
    capsys, tmp_path, write_raw_edf, write_eeg_file, make_eeg_uv, case: str, command: str
) -> None:
    make_file, expected = BAD_INPUTS[case]
    path = make_file(tmp_path, raw=write_raw_edf, eeg=write_eeg_file, make=make_eeg_uv)
    out_path = tmp_path / "out" / "spec.npz"
    extra = ["--out", out_path] if command == "spectrogram" else []
    code, out, err = run(capsys, command, path, *extra)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"neuronarrator: {path}: "), lines[0]
    assert expected.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err and "internal error" not in err
    assert not out_path.exists() and not any(out_path.parent.glob("*")) if out_path.parent.exists() else True


def test_label_reads_a_report_file(capsys, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text(
        "CLINICAL HISTORY: 61-year-old woman with seizures, on lamotrigine.\n"
        "DESCRIPTION OF THE RECORD: A 10 Hz posterior dominant rhythm is present. Frequent right temporal "
        "sharp waves, maximal at F8/T4. No generalized slowing.\n"
        "IMPRESSION: Abnormal EEG.\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "label", report, "--json")
    assert code == 0, err
    document = json.loads(out)
    codes = {f["code"]: f for f in document["findings"]}
    assert set(codes) == {"pdr", "focal_epileptiform"}
    assert codes["focal_epileptiform"]["side"] == "right"
    assert codes["pdr"]["frequency_hz"] == 10.0
    assert document["impression"] == "abnormal"


@pytest.mark.parametrize("content, expected", [(b"", "empty"), (b"\x00\x01binary", "binary"), (b"  \n ", "whitespace")])
def test_label_bad_text_files(capsys, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    code, _, err = run(capsys, "label", path)
    assert code != 0 and err.strip().startswith(f"neuronarrator: {path}: ") and expected in err


def test_phantom_writes_edf_and_truth_and_never_overwrites(capsys, tmp_path: Path) -> None:
    out_path = tmp_path / "case.edf"
    argv = ("phantom", "--findings", "focal_slowing:right:temporal", "--out", out_path, "--seed", "4", "--duration", "30")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    truth = json.loads(out_path.with_name("case.edf.truth.json").read_text())
    slowing = [f for f in truth["findings"] if f["code"] == "focal_slowing"]
    assert slowing and slowing[0]["side"] == "right" and truth["impression"] == "abnormal"
    code, out, err = run(capsys, "inspect", out_path, "--json")  # the phantom reads back like any file
    assert code == 0 and json.loads(out)["channels_missing"] == []
    before = out_path.read_bytes()
    code, _, err = run(capsys, *argv)
    assert code != 0 and "--force" in err and out_path.read_bytes() == before


def test_phantom_bad_spec_writes_nothing(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "phantom", "--findings", "not_a_code", "--out", tmp_path / "x.edf")
    assert code == 2 and "unknown finding code" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
