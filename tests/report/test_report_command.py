"""``neuronarrator report``: model directories (bundled or --model), one model for many files, atomic
outputs that are never overwritten unasked, and one clear line per bad file."""

from __future__ import annotations

import json

import pytest

from neuronarrator.cli import main
from neuronarrator.narrator.bundled import ModelNotFoundError, export_model, resolve_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="module")
def recordings(phantom_edfs):
    return phantom_edfs


def test_exported_model_is_slim_and_loads_from_its_own_folder(model_dir, tiny_narrator, tmp_path):
    import torch

    paths = resolve_model(model_dir)
    assert paths.name == "tiny-test" and not paths.bundled and set(paths.card["files"]) == {"stage1.pt", "narrator.pt"}
    slim = torch.load(paths.narrator, weights_only=True)
    assert set(slim) == {"model", "config", "manifest"}  # no optimizer state, no RNG
    assert slim["manifest"]["tokenizer"] == "narrator.pt.tokenizer"
    # the folder works wherever it is moved (the stage-1 encoder and tokenizer are found beside it)
    moved = tmp_path / "moved"
    model_dir.rename(moved)
    try:
        from neuronarrator.train.narrator_stage import load_narrator

        assert load_narrator(moved / "narrator.pt").model is not None
    finally:
        moved.rename(model_dir)
    with pytest.raises(Exception, match="exists already"):
        export_model(tiny_narrator["stage1"], tiny_narrator["narrator"], model_dir)


def test_resolve_model_names_what_is_missing(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a model directory"):
        resolve_model(tmp_path / "nowhere")
    (tmp_path / "stage1.pt").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="no narrator.pt"):
        resolve_model(tmp_path)


def test_report_many_files_one_model(model_dir, recordings, tmp_path, capsys):
    out = tmp_path / "reports"
    code = main(["report", str(recordings["a"]), str(recordings["bad"]), str(recordings["b"]), "--out", str(out),
                 "--model", str(model_dir), "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2  # one file failed
    assert "broken.edf" in captured.err and "Traceback" not in captured.err
    documents = json.loads(captured.out)
    assert len(documents) == 2 and {d["recording"]["file"] for d in documents} == {str(recordings["a"]),
                                                                                    str(recordings["b"])}
    names = sorted(p.name for p in out.iterdir())
    assert names == ["left_slowing.report.html", "left_slowing.report.json", "normal.report.html",
                     "normal.report.json"]  # fmt: skip  (nothing for the broken file, no partial files)
    doc = json.loads((out / "left_slowing.report.json").read_text())
    assert doc["model"]["name"] == "tiny-test" and len(doc["model"]["stage1_sha256"]) == 64
    for key in ("recording", "state", "impression", "findings", "narrative", "quality"):
        assert key in doc
    page = (out / "left_slowing.report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert str(recordings["a"].parent) not in page  # no folder (which may name a patient) in the page


def test_report_never_overwrites_unasked(model_dir, recordings, tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    existing = out / "normal.report.json"
    existing.write_text("mine")
    code = main(["report", str(recordings["b"]), "--out", str(out), "--model", str(model_dir)])
    assert code == 3 and "pass --force" in capsys.readouterr().err
    assert existing.read_text() == "mine" and not (out / "normal.report.html").exists()
    assert main(["report", str(recordings["b"]), "--out", str(out), "--model", str(model_dir), "--force",
                 "--no-html", "--fhir"]) == 0  # fmt: skip
    assert json.loads(existing.read_text())["recording"]["file"] == str(recordings["b"])
    bundle = json.loads((out / "normal.report.fhir.json").read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["resourceType"] == "DiagnosticReport"
    assert recordings["b"].name not in (out / "normal.report.fhir.json").read_text()


def test_report_refuses_colliding_names_and_a_missing_model(recordings, tmp_path, capsys):
    twin = tmp_path / "other" / recordings["b"].name
    twin.parent.mkdir()
    twin.write_bytes(recordings["b"].read_bytes())
    assert main(["report", str(recordings["b"]), str(twin), "--out", str(tmp_path / "r"),
                 "--model", str(tmp_path)]) == 2  # fmt: skip
    assert "would both write" in capsys.readouterr().err
    assert main(["report", str(recordings["b"]), "--out", str(tmp_path / "r"), "--model", str(tmp_path)]) == 2
    assert "no stage1.pt or narrator.pt" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_an_internal_error_on_one_file_does_not_lose_the_others(model_dir, recordings, tmp_path, monkeypatch):
    from neuronarrator.narrator import pipeline
    from neuronarrator.report.batch import report_files

    real = pipeline.Narrator.document

    def flaky(self, signal, info=None, **kw):
        if "normal" in str(signal.session_id):
            raise RuntimeError("boom")
        return real(self, signal, info, **kw)

    monkeypatch.setattr(pipeline.Narrator, "document", flaky)
    results = report_files([recordings["b"], recordings["a"]], tmp_path, model=model_dir, html=False)
    assert [r.ok for r in results] == [False, True]
    assert "internal error: RuntimeError: boom" in results[0].error and results[1].json_path.is_file()
    assert not (tmp_path / "normal.report.json").exists()
