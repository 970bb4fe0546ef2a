"""A real server under concurrent load: uvicorn on 127.0.0.1 (a free port, in a thread), 8 clients
uploading 8 different phantom recordings at once, each following its own job to its report. Every report
must be its own upload's -- the SHA-256 and size the server recorded, the duration, the file name, and the
findings and narrative the same model gives that file in-process -- with nothing lost or mixed up between
clients. Raw requests (no client normalising ``..`` away) then try traversal and a foreign ``Host`` on the
real server. Correctness only: no timing is asserted (``bench/bench_serve_load.py`` measures)."""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from neuronarrator.serve import create_app
from neuronarrator.serve.app import LOOPBACK_NAMES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_CLIENTS = 8
#: (findings, seed, duration s): distinct content, distinct lengths, so that any mix-up shows.
PHANTOMS = [("", 10, 10), ("focal_slowing:left:temporal", 11, 11), ("generalized_slowing", 12, 12),
            ("", 13, 13), ("focal_slowing:right:frontal", 14, 14), ("excess_beta", 15, 15), ("", 16, 16),
            ("muscle_artifact", 17, 17)]  # fmt: skip


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, bytes]:
    from neuronarrator.clinical.phantom.files import write_phantom

    root = tmp_path_factory.mktemp("load_phantoms")
    files = {}
    for i, (findings, seed, duration_s) in enumerate(PHANTOMS[:N_CLIENTS]):
        path, _ = write_phantom(root / f"client{i}.edf", findings, seed=seed, duration_s=duration_s)
        files[path.name] = path.read_bytes()
    assert len({hashlib.sha256(b).hexdigest() for b in files.values()}) == N_CLIENTS
    return files


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    """The app under uvicorn on a socket bound here (no port race), as :func:`serve_main` would run it on
    loopback (Host check on); yields its base URL and store, and stops it."""
    import uvicorn

    work = tmp_path_factory.mktemp("load-work")
    app = create_app(tiny_model_dir, work_dir=work, allowed_hosts=LOOPBACK_NAMES)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", limit_concurrency=64))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).json()["model"] == "ready":
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise AssertionError("the server did not start")
    yield base, app.state.store
    srv.should_exit = True
    thread.join(30)
    sock.close()
    assert not thread.is_alive()
    assert list(work.iterdir()) == []  # the work area is gone with the server


def _one_client(base: str, name: str, data: bytes) -> dict:
    """What one user does: upload, poll, fetch the report (own connection)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/api/jobs", files={"file": (name, data, "application/octet-stream")})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = client.get(f"/api/jobs/{job_id}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert status["status"] == "done", status
        report = client.get(f"/api/jobs/{job_id}/report.json")
        assert report.status_code == 200
        page = client.get(f"/jobs/{job_id}")
        assert page.status_code == 200 and name in page.text
        return {"id": job_id, "status": status, "document": report.json()}


def test_concurrent_uploads_each_get_their_own_report(server, uploads, tiny_model_dir, tmp_path):
    from neuronarrator.narrator.bundled import resolve_model
    from neuronarrator.narrator.pipeline import Narrator, recording_signal

    base, store = server
    barrier = threading.Barrier(N_CLIENTS)

    def client(item):
        barrier.wait()  # all uploads start together
        return item[0], _one_client(base, *item)

    with ThreadPoolExecutor(N_CLIENTS) as pool:
        results = dict(pool.map(client, uploads.items()))
    assert set(results) == set(uploads) and len({r["id"] for r in results.values()}) == N_CLIENTS

    # the reference: the same model on the same files, in this process, one after another
    paths = resolve_model(tiny_model_dir)
    narrator = Narrator(paths.stage1, paths.narrator)
    for name, data in uploads.items():
        document, status = results[name]["document"], results[name]["status"]
        recording = document["recording"]
        assert status["filename"] == name and recording["file"] == name
        assert recording["sha256"] == hashlib.sha256(data).hexdigest() and recording["bytes"] == len(data)
        (tmp_path / name).write_bytes(data)
        signal, info = recording_signal(tmp_path / name)
        expected = narrator.document(signal, info, model_name=paths.name).to_dict()
        assert recording["duration_s"] == expected["recording"]["duration_s"]
        assert recording["channels_used"] == expected["recording"]["channels_used"]
        assert [f["code"] for f in document["findings"]] == [f["code"] for f in expected["findings"]], name
        assert document["narrative"]["text"] == expected["narrative"]["text"], name
    assert store.counts()["done"] >= N_CLIENTS and list(store.work_area.iterdir()) == []


def _raw(base: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """One GET with the path sent byte for byte (http.client does not normalise it)."""
    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", [
    "/api/jobs/../../../../etc/passwd", "/jobs/..%2f..%2f..%2fetc%2fpasswd", "/api/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/jobs/%252e%252e%252fetc%252fpasswd/report.json", "/docs-assets/../../../../etc/passwd",
    "/docs-assets/..%2f..%2f__init__.py", "/docs-assets//etc/passwd", "/jobs/%00/viewer", "//etc/passwd",
    "/api/jobs/..\\..\\etc\\passwd/page.png",
])  # fmt: skip
def test_raw_traversal_on_the_real_server_is_refused(server, path):
    base, _ = server
    status, body = _raw(base, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"swagger_ui_path" not in body


def test_the_real_server_refuses_a_foreign_host(server):
    base, _ = server
    assert _raw(base, "/healthz", host="attacker.example")[0] == 400
    assert _raw(base, "/healthz", host="127.0.0.1.attacker.example:80")[0] == 400
    assert _raw(base, "/healthz", host=f"localhost:{base.rsplit(':', 1)[1]}")[0] == 200
