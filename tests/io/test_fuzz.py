"""A short run of the reader fuzzers (``fuzz/``): readers and harmonizer keep their error contract.

Every case must end in a valid result or in a one-line project error naming the file (see
``fuzz/harness.py``); any other exception, a hang or a worker killed by its memory cap fails the test.
The long runs are ``make fuzz`` (docs/fuzzing.md). About 20 s on one core.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ))

from fuzz_readers import byte_case  # noqa: E402
from harness import Case, Worker, edf_case, eeg_spec, seed_cases  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from strategies import edf_cases  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(memory_mb=1024, timeout_s=10.0) as guarded:
        yield guarded


@pytest.fixture(scope="module")
def seeds() -> list[Case]:
    return seed_cases()


def test_seed_files_are_valid(worker: Worker, seeds: list[Case]) -> None:
    """The mutations start from files that open and harmonize (else the fuzzer tests nothing)."""
    outcomes = {case.name: worker.run(case) for case in seeds}
    assert {name: o.kind for name, o in outcomes.items()} == {name: "valid" for name in outcomes}


def test_byte_mutations(worker: Worker, seeds: list[Case]) -> None:
    failures = []
    kinds = {"valid": 0, "project": 0}
    for index in range(200):
        case = byte_case(seeds, 0, index)
        outcome = worker.run(case)
        if outcome.kind == "failure":
            failures.append(f"case {index} ({case.name}): {outcome.detail}: {outcome.message[:300]}")
        else:
            kinds[outcome.kind] += 1
    assert not failures, "\n".join(failures)
    assert kinds["valid"] > 0 and kinds["project"] > 0  # both ends of the contract are reached


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(case=edf_cases())
def test_structured_edf_header_mutations(worker: Worker, case: Case) -> None:
    outcome = worker.run(case)
    assert outcome.kind != "failure", f"{case.name}: {outcome.detail}: {outcome.message}"


@pytest.mark.parametrize(
    ("texts", "signal_texts", "error"),
    [
        ({"record_duration": "nan"}, {}, "CorruptFileError"),
        ({}, {"digital_max": "inf"}, "CorruptFileError"),  # was an OverflowError
        ({}, {"physical_max": "inf"}, "CorruptFileError"),
        ({}, {"physical_max": "1e300"}, "NonFiniteSignalError"),  # was inf in the float32 output
    ],
)
def test_regressions_found_by_the_fuzzer(
    worker: Worker, texts: dict[str, str], signal_texts: dict[str, str], error: str
) -> None:
    spec = eeg_spec()
    spec.texts = texts
    for signal in spec.signals[:19]:
        signal.texts = dict(signal_texts)
    outcome = worker.run(edf_case("regression", spec))
    assert (outcome.kind, outcome.detail) == ("project", error), outcome.message


@pytest.mark.parametrize(
    ("seed", "index"),
    [
        (0, 3583),  # a 3 GB element declared in a 180 kB .set: scipy allocated it (MemoryError) at the read
        (3, 2505),  # elements shifted by an inserted byte: scipy's compiled reader died of SIGBUS
    ],
)
def test_eeglab_cases_that_broke_scipy_are_corrupt_files(
    worker: Worker, seeds: list[Case], seed: int, index: int
) -> None:
    """The fuzzer's EEGLAB reproducers: io.mat_check refuses them before scipy parses the file."""
    case = byte_case(seeds, seed, index)
    assert case.name.startswith("eeglab:")
    outcome = worker.run(case)
    assert (outcome.kind, outcome.detail) == ("project", "CorruptFileError"), outcome.message
    assert "not a valid MAT-file" in outcome.message


def test_recording_without_samples_is_too_short() -> None:
    """A recording with no samples (a lenient open can give one) was a ValueError from make_plan."""
    import numpy as np
    from harness import TEN_TWENTY

    from neuronarrator.io.errors import RecordingTooShortError
    from neuronarrator.io.harmonize import harmonize
    from neuronarrator.io.recording import Recording

    recording = Recording.from_array(np.zeros((19, 0)), 200.0, list(TEN_TWENTY), path="empty.edf")
    with pytest.raises(RecordingTooShortError, match="holds no samples"):
        harmonize(recording)


def test_fif_tag_chain_that_loops_is_refused(tmp_path: Path) -> None:
    """MNE walks a FIF tag chain without remembering where it has been: a loop made it hang."""
    import struct

    from neuronarrator.io.errors import CorruptFileError
    from neuronarrator.io.read import read_recording

    path = tmp_path / "loop_raw.fif"
    # a tag at 0 pointing to the tag at 16, which points to itself
    path.write_bytes(struct.pack(">iIii", 100, 31, 0, 16) + struct.pack(">iIii", 101, 31, 0, 16))
    with pytest.raises(CorruptFileError, match="tag chain loops back to byte 16"):
        read_recording(path)


def test_fif_data_cut_after_opening_is_a_corrupt_file(tmp_path: Path, seeds: list[Case]) -> None:
    """Samples are read lazily: a data section cut short surfaced as numpy's ValueError."""
    from neuronarrator.io.errors import CorruptFileError
    from neuronarrator.io.harmonize import harmonize
    from neuronarrator.io.read import read_recording

    fif = next(case for case in seeds if case.name == "fif")
    path = tmp_path / fif.main
    data = fif.files[fif.main]
    path.write_bytes(data)
    recording = read_recording(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="its samples could not be read") as caught:
        harmonize(recording)
    assert str(caught.value).startswith(f"{path}: ")
