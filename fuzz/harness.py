"""What the reader fuzzers share: seed files, one case run against the readers, and a guarded worker.

A *case* is a set of files (one main file plus, for BrainVision and Persyst, its companions), all bytes.
Running it means: write the files to a scratch folder, open the main one with the public entry point
(:func:`neuronarrator.io.read.read_recording`, or :func:`~neuronarrator.io.read.read_annotations` for an
annotations-only EDF+), and, when a recording comes back, harmonize it
(:func:`neuronarrator.io.harmonize.harmonize`). The contract every case must keep:

- it ends in a *valid* result: a recording whose header facts are sane (positive finite rate, one label
  per channel, finite event times) and a harmonized signal that is float32, finite, 200 Hz, of
  consistent shapes;
- or in one of the project's own exceptions (:class:`~neuronarrator.io.errors.NeuroNarratorError`),
  whose message is one line that names the file;
- never any other exception, never a hang, never an allocation beyond a memory cap.

Hangs and memory are guarded from outside the Python code under test: the cases run in a worker
process (:class:`Worker`) whose address space is capped with ``RLIMIT_AS`` (a header that makes a reader
allocate gigabytes ends in ``MemoryError``, a failure, instead of taking the machine down), with a
per-case ``SIGALRM`` timer and, behind it, a parent that kills a worker which does not answer in time
(a hang inside C code never returns to the interpreter to see the alarm). A dead worker is restarted
and the case recorded as a failure.

Seed files are built in memory by :class:`EdfSpec` (a byte-level EDF/EDF+/BDF writer whose every header
field is a text that a fuzzer may replace), written with MNE/pybv/eeglabio for the other formats, and
cut from the real files in ``../shared/data`` when they are there (a whole number of records, the
record count rewritten, so that each case stays small and fast).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import resource
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

#: Canonical 10-20 electrodes in TUH-style labels, so that the harmonizer has a referential recording.
TEN_TWENTY = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz",
              "P4", "T6", "O1", "O2")  # fmt: skip
TUH_LABELS = tuple(f"EEG {name.upper()}-REF" for name in TEN_TWENTY)
BIPOLAR_LABELS = ("FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4",
                  "F4-C4", "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ")  # fmt: skip
ANNOTATION_LABEL = "EDF Annotations"

# ------------------------------------------------------------------------------------------------ EDF


def _field(text: str, width: int) -> bytes:
    """A header field: latin-1, cut or space-padded to ``width`` bytes (any byte is a latin-1 char)."""
    return text.encode("latin-1", errors="replace")[:width].ljust(width, b" ")


def tal_block(record_onset_s: float, annotations: list[tuple[float, float, str]], n_bytes: int) -> bytes:
    """One record's EDF+ annotation block: the time-keeping TAL, then ``annotations``, NUL-padded."""
    block = f"+{record_onset_s:g}\x14\x14\x00".encode()
    for onset_s, duration_s, text in annotations:
        block += f"+{onset_s:g}\x15{duration_s:g}\x14{text}\x14\x00".encode("latin-1", errors="replace")
    return block[:n_bytes].ljust(n_bytes, b"\x00")


@dataclass
class EdfSignal:
    """One signal: ``samples_per_record`` drives the data written; ``texts`` override header fields."""

    label: str
    samples_per_record: int
    physical: tuple[float, float] = (-500.0, 500.0)
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def is_annotation(self) -> bool:
        return self.label in ("EDF Annotations", "BDF Annotations")


#: Per-signal header fields in file order: (name, width).
SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("physical_dim", 8), ("physical_min", 8),
                 ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
                 ("samples_per_record", 8), ("reserved", 32))  # fmt: skip
#: Fixed header fields in file order: (name, width).
FIXED_FIELDS = (("version", 8), ("patient", 80), ("recording", 80), ("start_date", 8), ("start_time", 8),
                ("header_bytes", 8), ("reserved", 44), ("n_records", 8), ("record_duration", 8),
                ("n_signals", 4))  # fmt: skip


@dataclass
class EdfSpec:
    """A small EDF/EDF+/BDF file whose header fields can each be replaced by any text.

    The true structure (signals with their samples per record, ``n_records`` records of
    ``record_duration_s``) decides the bytes of the data section; ``texts`` (fixed header) and each
    signal's ``texts`` replace what the header *says*, so a header can lie about the data. ``annotations``
    go into the EDF+ annotation signal of the first record; ``annotation_garbage`` replaces that block's
    bytes. ``cut_bytes`` drops bytes from the end, ``extra`` appends bytes.
    """

    signals: list[EdfSignal]
    n_records: int = 11
    record_duration_s: float = 1.0
    bdf: bool = False
    plus: bool = True
    texts: dict[str, str] = field(default_factory=dict)
    annotations: list[tuple[float, float, str]] = field(default_factory=list)
    annotation_garbage: bytes | None = None
    cut_bytes: int = 0
    extra: bytes = b""
    seed: int = 0

    def header_texts(self) -> dict[str, str]:
        n = len(self.signals)
        texts = {
            "version": "\xffBIOSEMI" if self.bdf else "0",
            "patient": "X X X X", "recording": "Startdate 01-JAN-2020 X X X",
            "start_date": "01.01.20", "start_time": "10.00.00", "header_bytes": str(256 * (n + 1)),
            "reserved": ("BDF+C" if self.bdf else "EDF+C") if self.plus else ("24BIT" if self.bdf else ""),
            "n_records": str(self.n_records), "record_duration": f"{self.record_duration_s:g}",
            "n_signals": str(n),
        }  # fmt: skip
        texts.update(self.texts)
        return texts

    def signal_texts(self, sig: EdfSignal) -> dict[str, str]:
        digital = (-8388608, 8388607) if self.bdf else (-32768, 32767)
        texts = {
            "label": sig.label, "transducer": "AgAgCl electrode", "physical_dim": "" if sig.is_annotation else "uV",
            "physical_min": f"{sig.physical[0]:g}", "physical_max": f"{sig.physical[1]:g}",
            "digital_min": str(digital[0]), "digital_max": str(digital[1]), "prefiltering": "HP:0.1Hz",
            "samples_per_record": str(sig.samples_per_record), "reserved": "",
        }  # fmt: skip
        texts.update(sig.texts)
        return texts

    def header(self) -> bytes:
        fixed = self.header_texts()
        out = b"".join(
            (b"\xffBIOSEMI" if fixed[name] == "\xffBIOSEMI" else _field(fixed[name], width))
            for name, width in FIXED_FIELDS
        )
        per_signal = [self.signal_texts(sig) for sig in self.signals]
        for name, width in SIGNAL_FIELDS:
            out += b"".join(_field(texts[name], width) for texts in per_signal)
        return out

    def data(self) -> bytes:
        width = 3 if self.bdf else 2
        rng = np.random.default_rng(self.seed)
        blocks = []
        for sig in self.signals:
            if sig.is_annotation:
                blocks.append(None)
                continue
            n = sig.samples_per_record
            t = np.arange(n) / max(n, 1)
            # 10 Hz alpha-like counts plus noise: about +-3000 counts (~45 µV at 500 µV / 32767)
            counts = 2000 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6.3)) + 800 * rng.standard_normal(n)
            counts = (counts * (256 if self.bdf else 1)).astype("<i4")  # BDF: the same µV in 24 bits
            blocks.append(counts.view(np.uint8).reshape(-1, 4)[:, :width].tobytes())
        records = []
        for r in range(self.n_records):
            parts = []
            for sig, block in zip(self.signals, blocks, strict=True):
                if block is not None:
                    parts.append(block)
                    continue
                n_bytes = sig.samples_per_record * width
                if self.annotation_garbage is not None and r == 0:
                    parts.append(self.annotation_garbage[:n_bytes].ljust(n_bytes, b"\x00"))
                else:
                    ann = self.annotations if r == 0 else []
                    parts.append(tal_block(r * self.record_duration_s, ann, n_bytes))
            records.append(b"".join(parts))
        return b"".join(records)

    def to_bytes(self) -> bytes:
        body = self.header() + self.data() + self.extra
        return body[: max(len(body) - self.cut_bytes, 0)]


def eeg_spec(
    labels: tuple[str, ...] = TUH_LABELS,
    sfreq_hz: int = 200,
    n_records: int = 11,
    *,
    bdf: bool = False,
    plus: bool = True,
    extra: tuple[tuple[str, int], ...] = (),
) -> EdfSpec:
    """A valid EDF+C (or BDF+C) of ``labels`` at ``sfreq_hz`` in 1-s records, plus ``extra`` (label, Hz)."""
    signals = [EdfSignal(label, sfreq_hz) for label in labels]
    signals += [EdfSignal(label, rate) for label, rate in extra]
    if plus:
        signals.append(EdfSignal(ANNOTATION_LABEL, 30 if bdf else 40))
    return EdfSpec(signals, n_records=n_records, bdf=bdf, plus=plus,
                   annotations=[(1.5, 2.0, "eyes closed"), (6.0, 0.0, "photic 10 Hz")])  # fmt: skip


# ------------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    """Files of one case (name -> bytes); ``main`` is opened; ``target`` is what opens it."""

    name: str
    main: str
    files: dict[str, bytes]
    strict: bool = True
    target: str = "recording"  # or "annotations"

    def with_main_bytes(self, data: bytes) -> Case:
        return replace(self, files={**self.files, self.main: data})


def edf_case(name: str, spec: EdfSpec, *, strict: bool = True) -> Case:
    suffix = ".bdf" if spec.bdf else ".edf"
    return Case(name, f"case{suffix}", {f"case{suffix}": spec.to_bytes()}, strict=strict)


def _cut_real_edf(path: Path, n_keep: int) -> bytes:
    """The first ``n_keep`` records of a real EDF with its record count rewritten (a small valid file)."""
    raw = path.read_bytes()
    n_signals = int(raw[252:256])
    header_bytes = 256 * (n_signals + 1)
    sig = raw[256:header_bytes]
    spr_offset = n_signals * (16 + 80 + 8 + 4 * 8 + 80)
    spr = [int(sig[spr_offset + 8 * i : spr_offset + 8 * (i + 1)]) for i in range(n_signals)]
    n_keep = min(n_keep, int(raw[236:244]))
    record_bytes = 2 * sum(spr)
    head = raw[:236] + _field(str(n_keep), 8) + raw[244:header_bytes]
    return head + raw[header_bytes : header_bytes + n_keep * record_bytes]


def _other_format_cases(folder: Path) -> list[Case]:
    """Valid BrainVision, EEGLAB, FIF and Persyst recordings (11 s of the 19 electrodes at 200 Hz)."""
    import mne
    import pybv

    sfreq_hz, n_times = 200.0, 2200
    rng = np.random.default_rng(7)
    t = np.arange(n_times) / sfreq_hz
    data_uv = 20 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, (19, 1))) + 5 * rng.standard_normal(
        (19, n_times)
    )
    names = list(TEN_TWENTY)
    cases = []

    def collect(name: str, main: str, stems: tuple[str, ...]) -> None:
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith(stems)}
        cases.append(Case(name, main, files))

    pybv.write_brainvision(data=data_uv * 1e-6, sfreq=sfreq_hz, ch_names=names, fname_base="bv",
                           folder_out=folder, events=[{"onset": 300, "duration": 1, "description": "eyes closed",
                                                        "type": "Comment"}], unit="µV")  # fmt: skip
    collect("brainvision", "bv.vhdr", ("bv.",))
    info = mne.create_info(names, sfreq_hz, ch_types="eeg")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0], [2.0], ["eyes closed"]))
    mne.export.export_raw(folder / "lab.set", raw, fmt="eeglab", verbose="error")
    collect("eeglab", "lab.set", ("lab.",))
    raw.save(folder / "rec_raw.fif", verbose="error")
    collect("fif", "rec_raw.fif", ("rec_raw.",))
    counts = np.clip(np.round(data_uv / 0.05), -32768, 32767).astype("<i2")
    (folder / "per.dat").write_bytes(counts.T.tobytes())
    lines = ["[FileInfo]", "File=per.dat", "FileType=Interleaved", f"SamplingRate={sfreq_hz:g}",
             "HeaderLength=0", "Calibration=0.05", "WaveformCount=19", "DataType=0", "[Patient]", "First=A",
             "Last=B", "ID=X", "Sex=f", "BirthDate=01/02/80", "Hand=", "TestDate=03/02/2002",
             "TestTime=10:11:12", "[ChannelMap]", *[f"{ch}={i + 1}" for i, ch in enumerate(names)],
             "[Comments]", "1,2,0,100,eyes closed"]  # fmt: skip
    (folder / "per.lay").write_text("\n".join(lines) + "\n")
    collect("persyst", "per.lay", ("per.",))
    return cases


def seed_cases(*, other_formats: bool = True, real_files: bool = True) -> list[Case]:
    """The valid files the mutations start from (each opens and harmonizes without error)."""
    cases = [
        edf_case("edf+c_19ch_200hz", eeg_spec()),
        edf_case("bdf+c_19ch_256hz", eeg_spec(sfreq_hz=256, bdf=True)),
        edf_case(
            "edf_plain_multirate",
            eeg_spec(TUH_LABELS[:8] + ("EEG A1-REF",), 250, plus=False, extra=(("EKG", 500), ("RESP", 10))),
        ),  # fmt: skip
        edf_case("edf_bipolar_128hz", eeg_spec(BIPOLAR_LABELS, 128)),
    ]
    if real_files and SHARED_DATA.is_dir():
        for rel, n_keep, name in (("eegmmidb/S001R01.edf", 11, "eegmmidb_S001R01_11s"),
                                  ("sleep-edf/SC4001E0-PSG_first300s.edf", 1, "sleep_edf_30s")):  # fmt: skip
            path = SHARED_DATA / rel
            if path.is_file():
                cases.append(Case(name, "case.edf", {"case.edf": _cut_real_edf(path, n_keep)}))
        hypnogram = SHARED_DATA / "sleep-edf" / "SC4001EC-Hypnogram.edf"
        if hypnogram.is_file():
            data = hypnogram.read_bytes()
            cases.append(Case("sleep_edf_hypnogram", "case.edf", {"case.edf": data}, target="annotations"))
    if other_formats:
        with tempfile.TemporaryDirectory(prefix="nn-fuzz-seed-") as tmp:
            cases += _other_format_cases(Path(tmp))
    return cases


# ------------------------------------------------------------------------------------------------ running


class CaseTimeout(BaseException):  # noqa: N818 - a BaseException, so `except Exception` never swallows it
    """Raised by the per-case alarm inside the worker."""


@dataclass(frozen=True)
class Outcome:
    """``kind`` is ``valid``, ``project`` (detail: the error class) or ``failure`` (detail: what broke)."""

    kind: str
    detail: str
    message: str = ""
    seconds: float = 0.0


def _check_recording(recording: Any) -> str | None:
    names = list(recording.raw.ch_names)
    if len(recording.labels) != len(names):
        return f"{len(recording.labels)} labels for {len(names)} channels"
    sfreq_hz = recording.sfreq_hz
    if not (math.isfinite(sfreq_hz) and sfreq_hz > 0):
        return f"sampling rate {sfreq_hz}"
    if set(recording.channel_sfreq_hz) != set(names):
        return "channel_sfreq_hz does not name exactly the channels"
    if not all(math.isfinite(rate) and rate > 0 for rate in recording.channel_sfreq_hz.values()):
        return f"channel rates {sorted(set(recording.channel_sfreq_hz.values()))[:4]}"
    if recording.n_times < 0:
        return f"n_times {recording.n_times}"
    bad = [e for e in recording.events if not (math.isfinite(e.onset_s) and math.isfinite(e.duration_s))]
    if bad:
        return f"non-finite event time {bad[0]}"
    return None


def _check_harmonized(h: Any) -> str | None:
    data = h.data_uv
    if data.dtype != np.float32 or data.ndim != 2:
        return f"data_uv {data.dtype} with {data.ndim} dimensions"
    if data.shape[0] != len(h.channels) or h.channel_mask.shape != (len(h.channels),):
        return f"data_uv {data.shape} for {len(h.channels)} channels, mask {h.channel_mask.shape}"
    if data.shape[1] == 0:
        return "no samples"
    if h.sfreq_hz != 200.0:
        return f"rate {h.sfreq_hz}"
    if not np.isfinite(data).all() or (h.extra_uv.size and not np.isfinite(h.extra_uv).all()):
        return "non-finite samples"
    if np.any(data[~h.channel_mask] != 0):
        return "masked rows hold data"
    return None


def run_case(case: Case, folder: Path) -> Outcome:
    """Write the case's files into ``folder`` (emptied first), open, check, harmonize, check."""
    from neuronarrator.io.errors import NeuroNarratorError
    from neuronarrator.io.harmonize import harmonize
    from neuronarrator.io.read import read_annotations, read_recording

    for old in folder.iterdir():
        old.unlink()
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    path = folder / case.main
    begin = time.perf_counter()
    try:
        if case.target == "annotations":
            events = read_annotations(path)
            bad = [e for e in events if not (math.isfinite(e.onset_s) and math.isfinite(e.duration_s))]
            problem = f"non-finite event time {bad[0]}" if bad else None
        else:
            recording = read_recording(path, strict=case.strict)
            problem = _check_recording(recording)
            if problem is None:
                problem = _check_harmonized(harmonize(recording))
    except NeuroNarratorError as error:
        message = str(error)
        seconds = time.perf_counter() - begin
        if str(path) not in message or "\n" in message:
            return Outcome("failure", f"badly worded {type(error).__name__}", message, seconds)
        return Outcome("project", type(error).__name__, message, seconds)
    except CaseTimeout:
        return Outcome("failure", "Timeout", "", time.perf_counter() - begin)
    except (Exception, MemoryError) as error:  # the very thing the fuzzer hunts for
        tb = "".join(traceback.format_exception(error)[-6:])
        return Outcome("failure", type(error).__name__, f"{error}\n{tb}", time.perf_counter() - begin)
    seconds = time.perf_counter() - begin
    if problem is not None:
        return Outcome("failure", "InvalidResult", problem, seconds)
    return Outcome("valid", "ok", "", seconds)


def _worker_main(conn: Any, memory_mb: int, timeout_s: float) -> None:
    """The worker: cap the address space, then run cases from ``conn`` until it closes."""
    import logging

    logging.disable(logging.CRITICAL)  # MNE and the readers log on every corrupt file
    import mne  # noqa: F401 - imported before the cap, so the cap bounds what a case allocates

    import neuronarrator.io.harmonize  # noqa: F401
    import neuronarrator.io.read  # noqa: F401

    with open("/proc/self/status") as f:
        vm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = vm_kb * 1024 + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, alarm)
    with tempfile.TemporaryDirectory(prefix="nn-fuzz-") as tmp:
        folder = Path(tmp)
        conn.send("ready")
        while True:
            try:
                case = conn.recv()
            except EOFError:
                return
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                outcome = run_case(case, folder)
            except CaseTimeout:  # raised between run_case's own handlers
                outcome = Outcome("failure", "Timeout")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            conn.send(outcome)


class Worker:
    """Runs cases in a child process with a memory cap (MiB above its baseline) and a time limit."""

    def __init__(self, *, memory_mb: int = 1024, timeout_s: float = 10.0):
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.restarts = 0
        self._process: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # the spawned child inherits it: one core per worker
        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(child, self.memory_mb, self.timeout_s), daemon=True)
        process.start()
        child.close()
        if not conn.poll(120) or conn.recv() != "ready":
            process.kill()
            raise RuntimeError("the fuzz worker did not start")
        self._process, self._conn = process, conn

    def run(self, case: Case) -> Outcome:
        if self._process is None or not self._process.is_alive():
            self._start()
        self._conn.send(case)
        # the worker's own alarm fires at timeout_s; this is for a hang the alarm cannot interrupt
        if self._conn.poll(self.timeout_s + 20):
            try:
                return self._conn.recv()
            except EOFError:
                pass
        self._process.kill()
        self._process.join()
        code = self._process.exitcode
        self._process = None
        self.restarts += 1
        what = "Hang" if code == -signal.SIGKILL else f"WorkerDied(exit {code})"
        return Outcome("failure", what)

    def close(self) -> None:
        if self._process is not None:
            self._conn.close()
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
            self._process = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
