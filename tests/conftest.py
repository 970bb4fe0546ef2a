"""Shared fixtures: the real data folder, and small EEG files in every supported format.

pytest runs with ``--import-mode=importlib``, so helper modules are not importable from test files:
every file-making helper is a fixture here. Factories are fixtures returning a callable; the named
fixtures (``tuh_edf``, ``chbmit_edf``, ...) are files written once per test into ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / "../shared/data").resolve()

TUH_LABELS = (
    "EEG FP1-REF", "EEG FP2-REF", "EEG F7-REF", "EEG F3-REF", "EEG FZ-REF", "EEG F4-REF", "EEG F8-REF",
    "EEG T3-REF", "EEG C3-REF", "EEG CZ-REF", "EEG C4-REF", "EEG T4-REF", "EEG T5-REF", "EEG P3-REF",
    "EEG PZ-REF", "EEG P4-REF", "EEG T6-REF", "EEG O1-REF", "EEG O2-REF", "EEG A1-REF", "EEG A2-REF",
    "EEG EKG1-REF", "PHOTIC-REF",
)  # fmt: skip
NIHON_KOHDEN_LABELS = (
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ", "C4", "T4", "T5", "P3", "PZ", "P4",
    "T6", "O1", "O2", "E", "DC03", "X1",
)  # fmt: skip
CHBMIT_LABELS = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
    "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9",
    "FT9-FT10", "FT10-T8", "T8-P8",
)  # fmt: skip
STANDARD_19 = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
    "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip

#: An identified patient, as written into test files by ``identified_edf`` and friends.
IDENTITY = {
    "code": "MCH-0234567",
    "sex": "F",
    "birthdate": dt.date(1951, 5, 2),
    "name": "Haagse_Harry",
    "start": dt.datetime(2002, 3, 2, 10, 11, 12),
}


@pytest.fixture(autouse=True)
def _isolated_deid_salt(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads or makes the user's real salt file."""
    monkeypatch.setenv("NEURONARRATOR_DEID_SALT", "neuronarrator-test-salt")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config"))


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` next to the repository (see its README); skips where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def identity() -> dict[str, Any]:
    return dict(IDENTITY)


@pytest.fixture
def make_eeg_uv() -> Callable[..., np.ndarray]:
    """``make(n_chans, sfreq_hz, duration_s, seed=0)`` -> (n_chans, n_times) µV: 10 Hz alpha + noise."""

    def make(n_chans: int, sfreq_hz: float, duration_s: float, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        t = np.arange(int(round(sfreq_hz * duration_s))) / sfreq_hz
        phases = rng.uniform(0, 2 * np.pi, size=(n_chans, 1))
        return 20.0 * np.sin(2 * np.pi * 10.0 * t + phases) + 5.0 * rng.standard_normal((n_chans, t.size))

    return make


def _edf_header(
    labels: Sequence[str],
    samples_per_record: Sequence[int],
    *,
    n_records: int,
    record_duration_s: float,
    patient: str,
    recording: str,
    reserved: str,
    bdf: bool,
    physical: tuple[float, float],
    digital: tuple[int, int],
    dims: str,
) -> bytes:
    n = len(labels)

    def field(value: Any, width: int) -> bytes:
        text = f"{value}"[:width]
        return text.ljust(width).encode("latin-1")

    out = (b"\xffBIOSEMI" if bdf else b"0       ") + field(patient, 80) + field(recording, 80)
    out += field("02.03.02", 8) + field("10.11.12", 8) + field(256 * (n + 1), 8) + field(reserved, 44)
    out += field(n_records, 8) + field(f"{record_duration_s:g}", 8) + field(n, 4)
    per_signal: list[tuple[Sequence[Any], int]] = [
        (labels, 16), ([""] * n, 80), ([dims] * n, 8), ([physical[0]] * n, 8), ([physical[1]] * n, 8),
        ([digital[0]] * n, 8), ([digital[1]] * n, 8), ([""] * n, 80), (samples_per_record, 8), ([""] * n, 32),
    ]  # fmt: skip
    for values, width in per_signal:
        out += b"".join(field(v, width) for v in values)
    assert len(out) == 256 * (n + 1)
    return out


@pytest.fixture
def write_raw_edf(tmp_path: Path) -> Callable[..., Path]:
    """A byte-level EDF/BDF writer that can lie: ``write(name, labels, sfreq_hz, n_records, ...)``.

    ``sfreq_hz`` is one rate or one per label (samples per record = rate x record duration). Every record
    repeats one block of noise (fast). Options: ``declared_records`` (what the header says, default the
    truth), ``cut_bytes`` (drop bytes from the end), ``extra_bytes`` (append), ``sparse`` (write only the
    last record; the rest is a hole: a 24-h file in a few kB of disk), ``patient``, ``recording``,
    ``reserved``, ``bdf``, ``header`` (replace the whole header with these bytes).
    """

    def write(
        name: str,
        labels: Sequence[str],
        sfreq_hz: float | Sequence[float],
        n_records: int,
        *,
        record_duration_s: float = 1.0,
        declared_records: int | None = None,
        cut_bytes: int = 0,
        extra_bytes: int = 0,
        sparse: bool = False,
        patient: str = "X X X X",
        recording: str = "Startdate X X X X",
        reserved: str = "",
        bdf: bool = False,
        physical: tuple[float, float] = (-500.0, 500.0),
        digital: tuple[int, int] | None = None,
        dims: str = "uV",
    ) -> Path:
        rates = [sfreq_hz] * len(labels) if np.isscalar(sfreq_hz) else list(sfreq_hz)
        spr = [int(round(rate * record_duration_s)) for rate in rates]
        width = 3 if bdf else 2
        digital = digital or ((-8388608, 8388607) if bdf else (-32768, 32767))
        header = _edf_header(
            labels, spr, n_records=n_records if declared_records is None else declared_records,
            record_duration_s=record_duration_s, patient=patient, recording=recording, reserved=reserved,
            bdf=bdf, physical=physical, digital=digital, dims=dims,
        )  # fmt: skip
        rng = np.random.default_rng(1)
        samples = rng.integers(-3000, 3000, size=sum(spr)).astype("<i4")
        record = b"".join(int(v).to_bytes(4, "little", signed=True)[:width] for v in samples)
        path = tmp_path / name
        with open(path, "wb") as f:
            f.write(header)
            if sparse and n_records > 1:
                f.truncate(len(header) + (n_records - 1) * len(record))
                f.seek(0, 2)
                f.write(record)
            else:
                f.write(record * n_records)
            if extra_bytes:
                f.write(b"\x00" * extra_bytes)
            size = f.tell()
        if cut_bytes:
            with open(path, "r+b") as f:
                f.truncate(size - cut_bytes)
        return path

    return write


@pytest.fixture
def write_eeg_file(tmp_path: Path, make_eeg_uv: Callable[..., np.ndarray]) -> Callable[..., Path]:
    """``write(fmt, ch_names, sfreq_hz=200, duration_s=10, *, data_uv=None, events=(), name=None, **kw)``.

    ``fmt`` is one of ``edf bdf brainvision eeglab fif persyst``; returns the path to open (the
    ``.vhdr`` for BrainVision, the ``.lay`` for Persyst). ``events`` are (onset_s, duration_s, text).
    Extra keywords go to :func:`neuronarrator.io.write.write_edf` (EDF/BDF) or set subject info (FIF).
    """
    import mne

    from neuronarrator.io.write import write_edf

    def write(
        fmt: str,
        ch_names: Sequence[str],
        sfreq_hz: float = 200.0,
        duration_s: float = 10.0,
        *,
        data_uv: np.ndarray | None = None,
        events: Sequence[tuple[float, float, str]] = (),
        name: str | None = None,
        **kwargs: Any,
    ) -> Path:
        ch_names = list(ch_names)
        if data_uv is None:
            data_uv = make_eeg_uv(len(ch_names), sfreq_hz, duration_s)
        stem = name or f"rec_{fmt}"
        if fmt in ("edf", "bdf"):
            return write_edf(tmp_path / f"{stem}.{fmt}", data_uv, sfreq_hz, ch_names, events=events, **kwargs)
        if fmt == "brainvision":
            import pybv

            markers = [
                {"onset": int(round(o * sfreq_hz)), "duration": max(1, int(round(d * sfreq_hz))),
                 "description": text, "type": "Comment"}
                for o, d, text in events
            ]  # fmt: skip
            pybv.write_brainvision(
                data=data_uv * 1e-6, sfreq=sfreq_hz, ch_names=ch_names, fname_base=stem,
                folder_out=tmp_path, events=markers or None, unit="µV",
            )  # fmt: skip
            return tmp_path / f"{stem}.vhdr"
        if fmt == "persyst":
            return _write_persyst(tmp_path, stem, data_uv, sfreq_hz, ch_names, events, **kwargs)
        info = mne.create_info(ch_names, sfreq_hz, ch_types="eeg")
        raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
        if events:
            onsets, durations, texts = zip(*events, strict=True)
            raw.set_annotations(mne.Annotations(onsets, durations, texts))
        if fmt == "eeglab":
            path = tmp_path / f"{stem}.set"
            mne.export.export_raw(path, raw, fmt="eeglab", verbose="error")
            return path
        if fmt == "fif":
            identity = kwargs.get("identity")
            if identity:
                with raw.info._unlock():
                    first, last = identity["name"].split("_")
                    raw.info["subject_info"] = {
                        "his_id": identity["code"], "first_name": first, "last_name": last,
                        "sex": 2, "birthday": identity["birthdate"],
                    }  # fmt: skip
                    raw.info["experimenter"] = "Dr_Technician"
                    raw.info["description"] = f"EEG of {identity['name']}"
                raw.set_meas_date(identity["start"].replace(tzinfo=dt.UTC))
            path = tmp_path / f"{stem}_raw.fif"
            raw.save(path, verbose="error")
            return path
        raise ValueError(f"unknown format {fmt}")

    return write


def _write_persyst(
    folder: Path,
    stem: str,
    data_uv: np.ndarray,
    sfreq_hz: float,
    ch_names: Sequence[str],
    events: Sequence[tuple[float, float, str]],
    identity: dict[str, Any] | None = None,
) -> Path:
    """A Persyst recording: ``.lay`` (INI text, as MNE's reader parses it) + interleaved int16 ``.dat``.

    Samples are int16 counts; µV = counts x ``Calibration``.
    """
    calibration_uv = 0.05
    counts = np.clip(np.round(data_uv / calibration_uv), -32768, 32767).astype("<i2")
    (folder / f"{stem}.dat").write_bytes(counts.T.tobytes())  # sample-major: ch1 ch2 ... chN, ch1 ...
    identity = identity or {"code": "X", "sex": "", "birthdate": None, "name": "_", "start": None}
    first, _, last = identity["name"].partition("_")
    # MNE 1.13 needs a BirthDate with "/" or "-"; an unparseable one becomes None (and MNE prints).
    birth = identity["birthdate"].strftime("%m/%d/%y") if identity["birthdate"] else "00/00/00"
    start = identity["start"] or dt.datetime(2002, 3, 2, 10, 11, 12)
    lines = [
        "[FileInfo]", f"File={stem}.dat", "FileType=Interleaved", f"SamplingRate={sfreq_hz:g}",
        "HeaderLength=0", f"Calibration={calibration_uv}", f"WaveformCount={len(ch_names)}", "DataType=0",
        "[Patient]", f"First={first}", f"Last={last}", f"ID={identity['code']}",
        f"Sex={identity['sex'].lower()}", f"BirthDate={birth}", "Hand=",  # MNE 1.13 fails without Hand
        f"TestDate={start:%m/%d/%Y}", f"TestTime={start:%H:%M:%S}", "Physician=Dr_Physician",
        "[ChannelMap]", *[f"{ch}={i + 1}" for i, ch in enumerate(ch_names)],
        "[Comments]", *[f"{o:g},{d:g},0,100,{text}" for o, d, text in events],
    ]  # fmt: skip
    path = folder / f"{stem}.lay"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tuh_edf(write_eeg_file: Callable[..., Path]) -> Path:
    """TUH-style EDF: ``EEG FP1-REF`` ... (old T3/T4/T5/T6 names), ear electrodes, EKG and photic."""
    return write_eeg_file("edf", TUH_LABELS, 250.0, 10.0, name="tuh")


@pytest.fixture
def nihon_kohden_style_edf(write_eeg_file: Callable[..., Path]) -> Path:
    """An EDF exported from Nihon Kohden software: ``FP1``, ``T3``, plus ``E``, ``DC03``, ``X1``."""
    return write_eeg_file("edf", NIHON_KOHDEN_LABELS, 500.0, 4.0, name="nk")


@pytest.fixture
def chbmit_edf(write_raw_edf: Callable[..., Path]) -> Path:
    """CHB-MIT-style bipolar EDF: the 23 derivations (``T8-P8`` twice, as in the real files) at 256 Hz.

    Written byte by byte: MNE's exporter would rename the repeated label before writing it.
    """
    return write_raw_edf("chb01_03.edf", CHBMIT_LABELS, 256.0, n_records=4)


@pytest.fixture
def multirate_edf(write_raw_edf: Callable[..., Path]) -> Path:
    """19 EEG at 200 Hz, an ECG at 500 Hz (faster than the EEG), respiration and SpO2 at 1 Hz."""
    labels = [*(f"EEG {ch}-REF" for ch in STANDARD_19), "ECG", "Resp chest", "SpO2"]
    rates = [200.0] * 19 + [500.0, 1.0, 1.0]
    return write_raw_edf("multirate.edf", labels, rates, n_records=10)


@pytest.fixture
def annotated_edf(write_eeg_file: Callable[..., Path]) -> Path:
    """EDF+ with three annotations at 2.0, 4.5 and 7.25 s."""
    events = [(2.0, 1.0, "eyes closed"), (4.5, 0.0, "spike"), (7.25, 2.0, "photic 10 Hz")]
    return write_eeg_file("edf", STANDARD_19, 200.0, 10.0, events=events, name="annotated")


@pytest.fixture
def identified_edf(write_eeg_file: Callable[..., Path], identity: dict[str, Any]) -> Path:
    """EDF+ whose header names the patient (``IDENTITY``): ID, name, birth date, sex, start date."""
    patient = {k: identity[k] for k in ("code", "sex", "birthdate", "name")}
    return write_eeg_file(
        "edf", STANDARD_19, 200.0, 4.0, name="identified", patient=patient, start=identity["start"],
        device="Sony.",
    )  # fmt: skip


@pytest.fixture
def label_sets() -> dict[str, tuple[str, ...]]:
    """The label lists the named fixtures write: ``tuh``, ``nihon_kohden``, ``chbmit``, ``standard_19``."""
    return {
        "tuh": TUH_LABELS,
        "nihon_kohden": NIHON_KOHDEN_LABELS,
        "chbmit": CHBMIT_LABELS,
        "standard_19": STANDARD_19,
    }


# --- a corpus source for the corpus tests (tests/corpus) ------------------------------------------------
# A module, not an object: the builder hands workers the adapter's import path. It is written to a file
# and imported under a unique name, so in-process schedulers find it in sys.modules.
FAKE_SOURCE = '''
"""A fast, deterministic corpus source with known labels (tests only)."""
import numpy as np
from neuronarrator.clinical.findings import Evidence, Finding, Findings, StateSpan
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.io.errors import CorruptFileError

name = "fake"


def _indices(value):
    return (value,) if isinstance(value, int) else tuple(value)  # one index, as a CLI option gives it


def list_items(root=None, *, sessions=4, duration_s=30.0, per_patient=2, bipolar=(), bad=(), crash=(), prefix="s",
               partial=(), extras=()):
    bipolar, bad, crash = _indices(bipolar), _indices(bad), _indices(crash)
    partial, extras = _indices(partial), _indices(extras)
    for i in range(sessions):
        yield SessionItem(source=name, key=f"{prefix}{i:03d}", patient=f"{prefix}-p{i // per_patient}",
                          options={"index": i, "duration_s": float(duration_s), "bipolar": i in bipolar,
                                   "bad": i in bad, "crash": i in crash, "partial": i in partial,
                                   "extras": 1 + i % 3 if i in extras else 0})


def load(item):
    o = item.options
    if o["bad"]:
        raise CorruptFileError(f"/data/{item.key}.edf", "the header says 12 records, the file holds 3")
    if o["crash"]:
        raise ZeroDivisionError("an adapter bug")
    n_chans = 18 if o["bipolar"] else 19
    rng = np.random.default_rng(o["index"])
    n_times = int(round(o["duration_s"] * 200))
    data = (rng.standard_normal((n_chans, n_times)) * 20.0).astype(np.float32)
    data[:, :200] *= 10.0  # a big first second: scales differ between segments
    mask = np.ones(n_chans, bool)
    if not o["bipolar"]:
        mask[7] = False  # T7 masked
    findings = Findings(
        findings=(
            Finding("focal_slowing", 0.9, side="left", regions=("temporal",), channels=("T7", "P7"),
                    evidence=(Evidence(12.0, 25.0, ("T7", "P7")),)),
            Finding("eye_blink_artifact", evidence=(Evidence(3.1, 3.4, ("Fp1", "Fp2")),)),
            Finding("excess_beta", 0.7),  # no evidence: a label for the whole recording
        ),
        state="awake",
        state_timeline=(StateSpan(0.0, min(14.0, o["duration_s"]), "drowsy"),)
        + ((StateSpan(14.0, o["duration_s"], "awake"),) if o["duration_s"] > 14.0 else ()),
    )
    narrative, origin = f"Report of {item.key}.", "report"
    if o.get("partial"):  # events only (like seizure times): no excess beta, no report
        findings = Findings(findings=findings.findings[:2], state_timeline=findings.state_timeline)
        narrative, origin = "", "none"
    n_extra = o.get("extras", 0)
    extra = (rng.standard_normal((n_extra, n_times)) * 30.0).astype(np.float32)
    return SessionData(
        data_uv=data, montage="bipolar" if o["bipolar"] else "referential", channel_mask=mask,
        findings=findings, narrative=narrative, narrative_origin=origin,
        ehr={"age_years": 30.0 + o["index"], "sex": "female" if o["index"] % 2 else None,
             "icd10": ["G40.909"], "atc": []},
        meta={"source_file": f"/data/{item.key}.edf"},
        extra_uv=extra, extra_channels=("Fpz-Cz", "Pz-Oz", "T7-FT9")[:n_extra],
        labels_complete=not o.get("partial"),
    )
'''


@pytest.fixture(scope="session")
def fake_source(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The fake corpus source module (``name = "fake"``): sessions of random µV with known findings.

    ``list_items(None, sessions=4, duration_s=30, per_patient=2, bipolar=(), bad=(), crash=(), prefix="s",
    partial=(), extras=())``: indices in ``bipolar`` are 18-derivation sessions, in ``bad`` raise a
    CorruptFileError, in ``crash`` a ZeroDivisionError. Every session: focal slowing left temporal at
    12-25 s, a blink at 3.1-3.4 s, excess beta without evidence, drowsy until 14 s then awake; channel T7
    masked (referential sessions); a report "Report of <key>.". Indices in ``partial`` have incomplete
    labels (``labels_complete`` False): the slowing and the blink only, no report (origin ``"none"``), the
    impression unknown. Session ``i`` in ``extras`` has ``1 + i % 3`` extra derivations (30 µV noise) named
    from ``("Fpz-Cz", "Pz-Oz", "T7-FT9")``.
    """
    import importlib.util
    import sys
    import uuid

    module_name = f"fake_corpus_source_{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("fake_source") / f"{module_name}.py"
    path.write_text(FAKE_SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(module_name, None)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module of tiny models: on a busy 2-core machine two threads
    spin-wait on each other and small convolutions, Transformers and MiniLM run ten times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def phantom_corpus(tmp_path_factory: pytest.TempPathFactory, name: str, sessions: int, *, duration_s: float = 20,
                   split_fractions: tuple[float, float, float] = (0.5, 0.5, 0.0)) -> Path:  # fmt: skip
    """A small phantom corpus (``sessions`` of ``duration_s``, the given train/val/test fractions) built
    in-process, for the training tests' module fixtures."""
    from neuronarrator.corpus.build import build_corpus

    out = tmp_path_factory.mktemp(name) / "corpus"
    build_corpus([("phantom", None, {"sessions": sessions, "duration_s": duration_s})], out,
                 scheduler="synchronous", split_fractions=split_fractions)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def build_phantom_corpus():
    """:func:`phantom_corpus` (for module-scoped fixtures, which take a callable)."""
    return phantom_corpus


def train_tiny_narrator(root: Path, corpus: Path, steps: int, **sections: Any) -> dict[str, Path]:
    """Write a sectioned config for a tiny stage 1 and narrator (``steps`` each) on ``corpus`` under ``root``,
    plus any other ``sections`` (``evaluate=...``), and train both stages through the CLI;
    ``{"stage1", "narrator", "config"}``."""
    import yaml

    from neuronarrator.cli import main

    s1, narrator = root / "s1.pt", root / "n.pt"
    document = {
        "corpus": str(corpus), "seed": 0,
        "stages": {
            "stage1": {"stage1": "tiny", "stage1_overrides": {"waveform": {"n_layers": 1}}, "steps": steps,
                       "batch_size": 4, "lr": 3e-3, "checkpoint": str(s1)},
            "narrator": {"steps": steps, "batch_size": 4, "lr": 3e-3, "lm": "tiny", "bridge": "tiny",
                         "tokenizer_vocab": 300, "max_text_tokens": 32, "checkpoint": str(narrator)},
        },
        **sections,
    }  # fmt: skip
    config = root / "narrator.yaml"
    config.write_text(yaml.safe_dump(document))
    assert main(["train", "stage1", "--config", str(config)]) == 0
    assert main(["train", "narrator", "--config", str(config)]) == 0
    return {"stage1": s1, "narrator": narrator, "config": config}


@pytest.fixture(scope="session")
def tiny_narrator_trainer():
    """:func:`train_tiny_narrator`, for test modules that train their own tiny narrator."""
    return train_tiny_narrator


@pytest.fixture(scope="session")
def tiny_narrator(tmp_path_factory):
    """Tiny NeuroNarrator checkpoints trained here, once per test session: a stage 1 (6 steps) and a narrator
    (6 steps, on the stage-1 encoder) on 8 phantom sessions of 20 s; ``{"stage1", "narrator", "root"}``."""
    import torch

    from neuronarrator.corpus.build import build_corpus

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see one_torch_thread
    try:
        root = tmp_path_factory.mktemp("tiny_narrator")
        corpus = root / "corpus"
        build_corpus([("phantom", None, {"sessions": 8, "duration_s": 20})], corpus, scheduler="synchronous",
                     split_fractions=(0.5, 0.5, 0.0))  # fmt: skip
        trained = train_tiny_narrator(root, corpus, steps=6)
    finally:
        torch.set_num_threads(threads)
    return {"stage1": trained["stage1"], "narrator": trained["narrator"], "root": root}


@pytest.fixture(scope="session")
def phantom_edfs(tmp_path_factory) -> dict[str, Path]:
    """Small phantom EDFs for the report and web-app tests: ``a`` left temporal slowing (30 s), ``b`` a
    normal record (20 s), ``bad`` the first 300 bytes of ``a`` (a header cut short)."""
    from neuronarrator.clinical.phantom.files import write_phantom

    root = tmp_path_factory.mktemp("phantom_edfs")
    a, _ = write_phantom(root / "left_slowing.edf", "focal_slowing:left:temporal", seed=3, duration_s=30)
    b, _ = write_phantom(root / "normal.edf", "", seed=4, duration_s=20)
    bad = root / "broken.edf"
    bad.write_bytes(a.read_bytes()[:300])
    return {"a": a, "b": b, "bad": bad}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_narrator, tmp_path_factory):
    """:func:`tiny_narrator`'s checkpoints exported as a model directory (what ``--model`` takes)."""
    from neuronarrator.narrator.bundled import export_model

    out = tmp_path_factory.mktemp("tiny_model") / "tiny-model"
    export_model(tiny_narrator["stage1"], tiny_narrator["narrator"], out,
                 card={"name": "tiny-test", "corpus": "phantom?sessions=8", "seed": 0})  # fmt: skip
    return out
