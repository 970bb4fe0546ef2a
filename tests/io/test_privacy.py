"""Privacy end to end: identifiers planted in every EDF/EDF+ header field and in annotation texts never
reach any output -- the report and inspect commands' files, stdout, stderr and DEBUG log, a corpus built
over the files (every file of the corpus folder, Zarr arrays and Parquet tables decoded), and the web
app's pages and documents. The searches are checked to find a planted string where one is put on purpose."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from neuronarrator.io.deid import REDACTED, edf_identifiers, safe_device, scrub_description

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BIRTH = dt.date(1963, 9, 7)
START = dt.datetime(2019, 2, 14, 9, 30, 0)
#: One distinctive string per header field (EDF+ patient and recording subfields, plain-EDF free text).
PLANTED = {
    "patient code": "ZQX7731946",
    "name (first)": "Zanzibar",
    "name (last)": "Quixotewell",
    "patient additional": "Vorpalmere",
    "admin code": "ADMQ5821",
    "technician": "Techblaster",
    "equipment": "Blorpcast",
    "recording additional": "Wenslowia",
    "plain patient text": "Grimsbyton",
    "plain recording text": "Hollowmere",
    "annotation only": "Flibbertine",
}
DATES = [BIRTH.strftime("%d-%b-%Y"), BIRTH.isoformat(), BIRTH.strftime("%d.%m.%Y"),
         BIRTH.strftime("%d/%m/%Y"), BIRTH.strftime("%m/%d/%Y"), START.strftime("%d-%b-%Y"),
         START.date().isoformat(), START.strftime("%d.%m.%Y"), START.strftime("%d/%m/%Y")]  # fmt: skip
#: In the file names only (not an identifier): found in the outputs, it shows that the searches read them.
CONTROL = "Ctrlmarkerfile"
ANNOTATIONS = [
    (1.0, 0.0, "Patient Zanzibar Quixotewell moved"),
    (2.0, 0.0, "Techblaster checked impedance"),
    (3.0, 0.0, "ZQX7731946 eyes closed"),
    (4.0, 0.0, f"DOB {BIRTH.strftime('%d-%b-%Y').upper()}"),
    (5.0, 0.0, f"born {BIRTH.isoformat()}"),
    (6.0, 0.0, "Vorpalmere and Flibbertine at bedside"),
    (7.0, 0.0, "ADMQ5821 Wenslowia Blorpcast"),
    (8.0, 2.0, "eyes closed"),
    (10.0, 0.0, "T1"),
    (11.0, 0.0, "photic 14 Hz"),
]


def _needles() -> list[bytes]:
    out = set()
    for text in [*PLANTED.values(), "Zanzibar_Quixotewell", "Zanzibar Quixotewell", *DATES]:
        for form in (text, text.replace("_", " "), text.replace(" ", "_")):
            out.add(form.lower().encode())
    return sorted(out)


def leaks(blob: bytes | str) -> list[str]:
    """The planted strings found in ``blob`` (case-insensitive; underscores and spaces alike)."""
    data = (blob.encode("utf-8", "replace") if isinstance(blob, str) else blob).lower()
    return [n.decode() for n in _needles() if n in data]


def _zarr_text(path: Path) -> bytes:
    """Attributes and every array of a Zarr store, decoded (the chunks on disk are Blosc-compressed)."""
    import zarr

    group = zarr.open_group(path, mode="r")
    parts = [json.dumps(dict(group.attrs), default=str).encode()]
    for _, member in group.members(max_depth=None):
        parts.append(json.dumps(dict(member.attrs), default=str).encode())
        if isinstance(member, zarr.Array):
            values = np.asarray(member[...])
            if values.dtype.kind in "OUST":  # object, unicode, bytes, numpy StringDType
                parts.append("\x00".join(map(str, values.ravel().tolist())).encode("utf-8", "replace"))
            else:
                parts.append(values.tobytes())
    return b"\x00".join(parts)


def folder_text(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as raw bytes, plus decoded Parquet tables and Zarr stores."""
    import pyarrow.parquet as pq

    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = path.read_bytes()
        if path.suffix == ".parquet" and path.is_file():
            table = pq.read_table(path)
            out[f"{path.relative_to(root)} (decoded)"] = json.dumps(table.to_pylist(), default=str).encode()
        if path.is_dir() and (path / "zarr.json").is_file() and not (path.parent / "zarr.json").is_file():
            out[f"{path.relative_to(root)} (decoded)"] = _zarr_text(path)
    return out


def assert_clean(where: str, blobs: dict[str, bytes | str]) -> None:
    """No planted string in any blob; the control string (the file names) in some, so the search works."""
    found = {name: hits for name, blob in blobs.items() if (hits := leaks(blob))}
    assert not found, f"{where}: planted identifiers found: {found}"
    control = CONTROL.lower().encode()
    as_bytes = [b.encode() if isinstance(b, str) else b for b in blobs.values()]
    assert any(control in b.lower() for b in as_bytes), f"{where}: the control string is in no output"


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    """A 30-s phantom rewritten as EDF+ with every header field and some annotations identifying, and as
    plain EDF with identifying free text in the patient and recording fields."""
    import edfio

    from neuronarrator.clinical.phantom.files import write_phantom

    base = tmp_path_factory.mktemp("phantom-base")
    phantom, _ = write_phantom(base / "base.edf", "", seed=5, duration_s=30)
    edf = edfio.read_edf(phantom)
    folder = tmp_path_factory.mktemp("planted")
    patient = edfio.Patient(code=PLANTED["patient code"], sex="F", birthdate=BIRTH,
                            name=f"{PLANTED['name (first)']}_{PLANTED['name (last)']}",
                            additional=[PLANTED["patient additional"]])  # fmt: skip
    recording = edfio.Recording(startdate=START.date(), hospital_administration_code=PLANTED["admin code"],
                                investigator_technician_code=PLANTED["technician"],
                                equipment_code=f"Natus_{PLANTED['equipment']}",
                                additional=[PLANTED["recording additional"]])  # fmt: skip
    annotations = [
        edfio.EdfAnnotation(onset, duration or None, text) for onset, duration, text in ANNOTATIONS
    ]
    signals = [s for s in edf.signals if s.label != "EDF Annotations"]
    plus = edfio.Edf(signals, patient=patient, recording=recording, starttime=START.time(),
                     annotations=annotations)  # fmt: skip
    plus.write(folder / f"{CONTROL}-plus.edf")

    plain = bytearray((folder / f"{CONTROL}-plus.edf").read_bytes())
    free_patient = f"{PLANTED['plain patient text']} Zanzibar Quixotewell {BIRTH.strftime('%d.%m.%Y')}"
    free_recording = f"{PLANTED['plain recording text']} ward, {START.strftime('%d/%m/%Y')}, Techblaster"
    plain[8:88] = free_patient.ljust(80).encode()
    plain[88:168] = free_recording.ljust(80).encode()
    plain[192:236] = b" " * 44  # plain EDF: no "EDF+C"
    (folder / f"{CONTROL}-plain.edf").write_bytes(bytes(plain))
    return {
        "plus": folder / f"{CONTROL}-plus.edf",
        "plain": folder / f"{CONTROL}-plain.edf",
        "folder": folder,
    }


def test_the_searches_find_what_is_planted(planted, tmp_path) -> None:
    """Controls: the inputs name the patient, and the decoders find a string inside compressed outputs."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zarr

    header = planted["plus"].read_bytes()[:256]
    for value in (
        "patient code",
        "name (first)",
        "admin code",
        "technician",
        "equipment",
        "recording additional",
    ):
        assert PLANTED[value].lower() in leaks(header)
    assert BIRTH.strftime("%d-%b-%Y").lower() in leaks(header)
    assert PLANTED["plain recording text"].lower() in leaks(planted["plain"].read_bytes()[:256])

    secret = "Zanzibar Quixotewell"
    pq.write_table(pa.table({"text": ["x", secret]}), tmp_path / "m.parquet", compression="zstd")
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", attributes={"x": 1})
    group.create_array("texts", shape=(2,), dtype=str)[:] = np.array(["x", secret])
    decoded = folder_text(tmp_path)  # the "(decoded)" entries come from the Parquet and Zarr readers alone
    assert "quixotewell" in leaks(decoded["m.parquet (decoded)"])
    assert "quixotewell" in leaks(decoded["s.zarr (decoded)"])
    with pytest.raises(AssertionError, match="quixotewell"):
        assert_clean("control", decoded)
    with pytest.raises(AssertionError, match="control string"):
        assert_clean("control", {"clean": b"nothing here"})


def test_reader_scrubs_annotations_and_keeps_eeg_labels(planted) -> None:
    from neuronarrator.io.read import read_recording

    for key in ("plus", "plain"):
        rec = read_recording(planted[key])
        texts = [e.description for e in rec.events]
        outputs = {
            "events": "\n".join(texts),
            "raw.annotations": "\n".join(map(str, rec.raw.annotations.description)),
            "header": json.dumps(rec.header.to_dict()),
            "path": str(rec.path),
        }
        assert_clean(f"{key} events", outputs)
        if key == "plus":
            assert texts == ["Patient [redacted] moved", "[redacted] checked impedance",
                             "[redacted] eyes closed", "[redacted]", "[redacted]",
                             "[redacted] and [redacted] at bedside", "[redacted]", "eyes closed", "T1",
                             "photic 14 Hz"]  # fmt: skip
            assert rec.header.device == "Natus" and rec.header.recording_year == 2019
            assert rec.header.sex == "female" and rec.header.age_years == pytest.approx(55.4, abs=0.05)


def test_scrubber_units() -> None:
    ids = edf_identifiers(
        "MCH-0234567 F 02-MAY-1951 Harry_Wake Extra", "Startdate 02-MAR-2002 A17 Bo_Jo Sony.", None
    )
    assert scrub_description("Wake", ids) == REDACTED  # a header name is redacted even where it is vocabulary
    assert scrub_description("Sleep stage W", ids) == "Sleep stage W"
    assert scrub_description("Bo moved", ids) == f"{REDACTED} moved"
    assert scrub_description("mch-0234567", ids) == REDACTED
    assert scrub_description("5/2/1951 seizure") == f"{REDACTED} seizure"
    assert scrub_description("MRN 12.345.678") == REDACTED and scrub_description("PDR 9.5 Hz") == "PDR 9.5 Hz"
    for text in (
        "T0",
        "Sleep stage ?",
        "Movement time",
        "LPDs right temporal",
        "Spike T3",
        "spsw",
        "Fc5.",
        "hyperventilation",
        "eyes open",
        "seizure onset 10:32:15",
        "generalized spike-and-wave",
    ):
        assert scrub_description(text) == text
    assert safe_device("Sony.") == "Sony." and safe_device("BCI2000") == "BCI2000"
    assert safe_device("Dr_Smith_Natus") == "Natus" and safe_device("SN123456789") is None
    assert safe_device("Natus_Bo", ids) == "Natus"


def test_real_files_keep_their_labels(shared_data) -> None:
    from neuronarrator.io.read import read_annotations, read_recording

    r04 = {e.description for e in read_recording(shared_data / "eegmmidb/S001R04.edf").events}
    assert r04 == {"T0", "T1", "T2"}
    stages = {e.description for e in read_annotations(shared_data / "sleep-edf/SC4001EC-Hypnogram.edf")}
    assert "Sleep stage W" in stages and "Sleep stage R" in stages and not any(REDACTED in s for s in stages)
    assert read_recording(shared_data / "eegmmidb/S001R01.edf").header.device == "BCI2000"


def test_report_command_leaks_nothing(planted, tmp_path, capsys, caplog) -> None:
    from neuronarrator.cli import main

    out = tmp_path / "reports"
    with caplog.at_level(logging.DEBUG):
        code = main(
            ["report", str(planted["plus"]), str(planted["plain"]), "--out", str(out), "--json", "--fhir"]
        )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    files = folder_text(out)
    assert any(name.endswith(".fhir.json") for name in files) and any(
        name.endswith(".html") for name in files
    )
    records = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records  # DEBUG logging was on and caught something
    assert_clean("report", {**files, "stdout": captured.out, "stderr": captured.err, "log": records})


def test_corpus_build_leaks_nothing(planted, tmp_path, capsys, caplog) -> None:
    from neuronarrator.cli import main

    corpus = tmp_path / "corpus"
    with caplog.at_level(logging.DEBUG):
        code = main(["corpus", "build", f"edf:{planted['folder']}", "--out", str(corpus), "--scheduler",
                     "synchronous", "--no-topomaps", "--splits", "1,0,0"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    files = folder_text(corpus)
    assert any(name.endswith("(decoded)") and ".zarr" in name for name in files)
    assert any(name.endswith(".parquet (decoded)") for name in files)
    records = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert_clean("corpus", {**files, "stdout": captured.out, "stderr": captured.err, "log": records})


def test_web_app_leaks_nothing(planted, tmp_path, caplog) -> None:
    from fastapi.testclient import TestClient

    from neuronarrator.serve.app import create_app

    seen: dict[str, bytes | str] = {}
    with caplog.at_level(logging.DEBUG), TestClient(create_app(None, work_dir=tmp_path / "work")) as client:
        for key in ("plus", "plain"):
            files = {"file": (planted[key].name, planted[key].read_bytes(), "application/octet-stream")}
            created = client.post("/api/jobs", files=files)
            assert created.status_code == 202, created.text
            job = created.json()["id"]
            deadline = time.monotonic() + 300
            while (status := client.get(f"/api/jobs/{job}").json())["status"] not in ("done", "failed"):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["status"] == "done", status
            for url in (
                f"/api/jobs/{job}",
                status["report_url"],
                status["report_json_url"],
                status["viewer_url"],
                f"/api/jobs/{job}/page.png?start_s=0",
                "/",
            ):
                response = client.get(url)
                assert response.status_code == 200, (url, response.text[:200])
                seen[f"{key} {url}"] = response.content
                seen[f"{key} {url} headers"] = json.dumps(dict(response.headers))
    seen["log"] = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert_clean("web app", seen)


def test_inspect_command_leaks_nothing(planted, capsys, caplog) -> None:
    """``inspect`` prints the de-identified header and the annotation texts."""
    from neuronarrator.cli import main

    seen: dict[str, bytes | str] = {}
    with caplog.at_level(logging.DEBUG):
        for key in ("plus", "plain"):
            for extra in ([], ["--json"]):
                assert main(["inspect", str(planted[key]), *extra]) == 0
                seen[f"{key} {extra}"] = capsys.readouterr().out
    seen["log"] = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert_clean("inspect", seen)
    assert "[redacted]" in seen["plus ['--json']"]  # the annotations were printed, scrubbed
