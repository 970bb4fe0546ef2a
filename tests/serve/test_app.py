"""The web app (``neuronarrator serve``): upload → job → report, the viewer, refused uploads, a bad file
that fails its own job only, unknown and traversal-looking ids, the token, and a work area that keeps no
upload once it has been read."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from neuronarrator.serve import ServeError, create_app, serve_main
from neuronarrator.serve.jobs import Job, JobStore, safe_filename

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG = b"\x89PNG\r\n\x1a\n"
TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="module")
def recordings(phantom_edfs):
    return {name: path.read_bytes() for name, path in phantom_edfs.items()}


@pytest.fixture(scope="module")
def served(model_dir, tmp_path_factory):
    """One app (model loaded once) with its client; the work area's parent, to check it is cleaned up."""
    work = tmp_path_factory.mktemp("serve-work")
    app = create_app(model_dir, work_dir=work)
    with TestClient(app) as client:
        yield client, app.state.store
    assert list(work.iterdir()) == []  # the work area is removed at shutdown


def upload(client, name: str, data: bytes, **kwargs):
    return client.post("/api/jobs", files={"file": (name, data, "application/octet-stream")}, **kwargs)


def wait(client, job_id: str, timeout_s: float = 180.0, **kwargs) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}", **kwargs)
        assert response.status_code == 200, response.text
        status = response.json()
        if status["status"] in ("done", "failed"):
            return status
        assert status["status"] in ("queued", "running")
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def test_jobs_queue_a_bad_file_fails_alone_and_reports_come_out(served, recordings):
    client, store = served
    assert client.get("/healthz").json()["status"] == "ok"
    # three uploads at once: a truncated EDF between two good ones; they queue and are never mixed up
    jobs = {}
    for name, key in (("left_slowing.edf", "a"), ("broken.edf", "bad"), ("normal.edf", "b")):
        response = upload(client, name, recordings[key])
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status_url"] == f"/api/jobs/{body['id']}"
        jobs[name] = body["id"]
    assert len(set(jobs.values())) == 3
    statuses = {name: wait(client, job_id) for name, job_id in jobs.items()}

    failed = statuses["broken.edf"]
    assert failed["status"] == "failed" and failed["report_url"] is None
    assert failed["error"].startswith("broken.edf: ") and "\n" not in failed["error"]
    assert str(store.work_area) not in failed["error"]
    response = client.get(f"/api/jobs/{jobs['broken.edf']}/report.json")
    assert response.status_code == 422 and response.json() == {"detail": failed["error"]}
    page = client.get(f"/jobs/{jobs['broken.edf']}")
    assert (
        page.status_code == 422 and "text/html" in page.headers["content-type"] and "broken.edf" in page.text
    )

    for name in ("left_slowing.edf", "normal.edf"):
        status = statuses[name]
        assert status["status"] == "done" and status["error"] is None, status
        assert status["filename"] == name and status["report_url"] == f"/jobs/{jobs[name]}"
        response = client.get(status["report_json_url"])
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert str(store.work_area) not in response.text  # no server folder leaks into the document
        document = response.json()
        assert document["recording"]["file"] == name  # each job has its own file's report
        assert isinstance(document["findings"], list) and document["narrative"]["text"].strip()
        assert document["model"]["name"] == "tiny-test"
        assert document["model"]["narrator_checkpoint"] == "narrator.pt"
    assert document["recording"]["duration_s"] == pytest.approx(20, abs=0.1)
    # every upload was deleted once read: the work area holds nothing now
    assert list(store.work_area.iterdir()) == []
    assert client.get("/healthz").json()["jobs"] == {"queued": 0, "running": 0, "done": 2, "failed": 1}


@pytest.fixture(scope="module")
def done_job(served, recordings):
    client, _ = served
    response = upload(client, "C:\\Users\\someone\\left slowing.EDF", recordings["a"])
    assert response.status_code == 202
    status = wait(client, response.json()["id"])
    assert status["status"] == "done", status
    assert status["filename"] == "left slowing.edf"  # base name only
    return status


def test_report_page_viewer_and_page_png(served, done_job):
    client, _ = served
    job_id = done_job["id"]
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and page.text.startswith("<!DOCTYPE html>")
    assert f'href="/jobs/{job_id}/viewer"' in page.text and "left slowing.edf" in page.text

    viewer = client.get(f"/jobs/{job_id}/viewer")
    assert viewer.status_code == 200
    assert f"/api/jobs/{job_id}/page.png?start_s=0" in viewer.text
    assert f"/jobs/{job_id}/viewer?start_s=10" in viewer.text  # next page
    assert "← Previous" not in viewer.text
    last = client.get(f"/jobs/{job_id}/viewer", params={"start_s": 20})
    assert last.status_code == 200 and "← Previous" in last.text and "Next →" not in last.text
    document = client.get(f"/api/jobs/{job_id}/report.json").json()
    n_spans = sum(len(f.get("evidence") or []) for f in document["findings"])
    assert last.text.count("<li") == n_spans or (n_spans == 0 and "No evidence spans" in last.text)

    for start in (0, 12.5, 29.9):
        png = client.get(f"/api/jobs/{job_id}/page.png", params={"start_s": start})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(PNG)
    for bad in ("30", "-1", "nan", "inf", "1e309", "abc"):
        response = client.get(f"/api/jobs/{job_id}/page.png", params={"start_s": bad})
        assert response.status_code == 422, bad
        assert isinstance(response.json()["detail"], str) and "start_s" in response.json()["detail"]
    response = client.get(f"/jobs/{job_id}/viewer", params={"start_s": "99"})
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert "start_s" in response.text


def test_refused_uploads_leave_nothing_and_the_server_goes_on(served, recordings, done_job):
    client, store = served
    response = upload(client, "notes.txt", b"hello")
    assert response.status_code == 415 and ".txt" in response.json()["detail"]
    response = upload(client, "recording.vhdr", b"Brain Vision Data Exchange Header File")
    assert response.status_code == 415
    response = upload(client, "empty.edf", b"")
    assert response.status_code == 400 and "empty" in response.json()["detail"]
    response = client.post("/api/jobs", data={"note": "no file"}, files={})
    assert response.status_code in (400, 415)
    response = client.post(
        "/api/jobs", content=recordings["a"], headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 415 and "multipart" in response.json()["detail"]
    response = client.post(
        "/api/jobs", content=b"--x\r\ngarbage", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 400
    assert list(store.work_area.iterdir()) == []
    assert client.get(f"/api/jobs/{done_job['id']}").json()["status"] == "done"  # still serving


def test_oversized_uploads_are_refused_by_header_and_while_streaming(model_dir, recordings, tmp_path):
    app = create_app(model_dir, max_upload_mb=1 / 1024, work_dir=tmp_path)  # 1 KiB
    store = app.state.store
    try:
        client = TestClient(app)
        response = upload(client, "big.edf", recordings["a"])  # Content-Length says it all
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        # no Content-Length (chunked): the bytes are counted as they arrive
        boundary = "nnboundary"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.edf"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            for i in range(0, len(recordings["a"]), 512):
                yield recordings["a"][i : i + 512]
            yield tail

        response = client.post("/api/jobs", content=body(),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
        assert response.status_code == 413, response.text
        assert list(store.work_area.iterdir()) == []
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [
    "/api/jobs/{bogus}", "/api/jobs/{bogus}/report.json", "/api/jobs/{bogus}/page.png", "/jobs/{bogus}",
    "/jobs/{bogus}/viewer",
])  # fmt: skip
@pytest.mark.parametrize("bogus", ["AAAAAAAAAAAAAAAAAAAAAA", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                   "%2E%2E", "nope"])  # fmt: skip
def test_unknown_and_traversal_ids_are_404(served, path, bogus):
    client, _ = served
    response = client.get(path.format(bogus=bogus))
    assert response.status_code == 404, response.text
    assert "root:" not in response.text
    if path.startswith("/api/"):
        assert isinstance(response.json()["detail"], str)
    else:
        assert "text/html" in response.headers["content-type"]


def test_token_is_required_everywhere_but_healthz(model_dir, recordings, tmp_path):
    app = create_app(model_dir, token=TOKEN, work_dir=tmp_path)
    store = app.state.store
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        client = TestClient(app)
        assert client.get("/healthz").status_code == 200
        for path in (
            "/",
            "/docs",
            "/openapi.json",
            "/api/jobs/AAAAAAAAAAAAAAAAAAAAAA",
            "/jobs/AAAAAAAAAAAAAAAAAAAAAA",
        ):
            assert client.get(path).status_code == 401, path
            assert client.get(path, params={"token": "wrong"}).status_code == 401, path
            assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert client.get("/api/jobs/x").json()["detail"].startswith("a token is required")
        assert client.get("/api/jobs/x").headers["www-authenticate"] == "Bearer"
        assert upload(client, "left_slowing.edf", recordings["a"]).status_code == 401
        assert list(store.work_area.iterdir()) == []  # refused before a byte was stored
        home = client.get("/", params={"token": TOKEN})
        assert home.status_code == 200 and f"token={TOKEN}" in home.text  # the form carries it on
        assert client.get("/", headers=bearer).status_code == 200
        assert client.get("/openapi.json", headers=bearer).status_code == 200
        docs = client.get("/docs", params={"token": TOKEN})
        assert docs.status_code == 200 and f"/openapi.json?token={TOKEN}" in docs.text
        assert client.get("/api/jobs/AAAAAAAAAAAAAAAAAAAAAA", headers=bearer).status_code == 404
    finally:
        store.close()


def test_openapi_documents_the_json_api(served):
    client, _ = served
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/report.json",
                          "/api/jobs/{job_id}/page.png", "/healthz"}  # fmt: skip
    assert all(op.get("summary") for p in paths.values() for op in p.values())
    post = paths["/api/jobs"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"] and {"202", "413", "415"} <= set(
        post["responses"]
    )
    assert {"JobCreated", "JobStatus", "ErrorDetail", "Health"} <= set(schema["components"]["schemas"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text  # works offline: its files are served here
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs-assets/{asset}" in docs.text
        got = client.get(f"/docs-assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 10_000
    assert client.get("/docs-assets/index.html").status_code == 404
    assert client.get("/docs-assets/..%2F..%2Fswagger_ui_bundle%2F__init__.py").status_code == 404
    assert json.loads(client.get("/openapi.json").text)["info"]["title"] == "neuronarrator"


def test_serve_main_refuses_a_public_address_without_a_token():
    with pytest.raises(ServeError, match="without a token"):
        serve_main("0.0.0.0", 8000)
    with pytest.raises(ServeError, match="without a token"):
        serve_main("example.org", 8000, token="")


def test_safe_filename_keeps_a_harmless_base_name():
    assert safe_filename("C:\\data\\patient 1.EDF", ".edf") == "patient 1.edf"
    assert safe_filename("../../etc/passwd.edf", ".edf") == "passwd.edf"
    assert safe_filename("<b>alert(1)</b>.edf", ".edf") == "b_.edf"  # the last "/" starts the base name
    assert safe_filename("<i>x&y.edf", ".edf") == "_i_x_y.edf"
    assert (
        safe_filename("..edf", ".edf") == "recording.edf" and safe_filename(None, ".fif") == "recording.fif"
    )
    assert len(safe_filename("x" * 500 + ".bdf", ".bdf")) == 104


def test_the_store_forgets_the_oldest_finished_jobs(tmp_path):
    import numpy as np

    store = JobStore(None, tmp_path / "area", max_jobs=3, max_kept_mb=1)
    (tmp_path / "area").mkdir()
    jobs = []
    for i in range(5):
        job = Job(
            id=f"job{i:02d}-AAAAAAAAAAAAAAA", filename=f"{i}.edf", folder=tmp_path / str(i), status="done"
        )
        job.data_uv = np.zeros((19, 2000), np.float32)  # 152 kB each
        store._jobs[job.id] = job
        jobs.append(job)
    jobs[4].status = "running"
    store._evict()
    assert [j.id for j in store._jobs.values()] == [j.id for j in jobs[2:]]  # a running job is never dropped
    jobs[4].status = "done"
    jobs[4].data_uv = np.zeros((19, 40_000), np.float32)  # 3 MB: over the budget alone
    store._evict(keep=jobs[4])
    assert list(store._jobs) == [jobs[4].id] and store.get(jobs[4].id) is jobs[4]
    assert store.get("../../etc/passwd") is None and store.get(jobs[2].id) is None
    store.close()
    assert not (tmp_path / "area").exists()


def test_the_access_log_never_shows_the_token():
    import logging

    from neuronarrator.serve.app import _RedactToken

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/jobs/x?start_s=3&token={TOKEN}&a=1", "1.1", 200), None)  # fmt: skip
    assert _RedactToken().filter(record) and TOKEN not in record.getMessage()
    assert "start_s=3&token=***&a=1" in record.getMessage()
