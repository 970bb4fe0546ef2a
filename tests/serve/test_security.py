"""The web app's defences, each tried the way an attacker would: the token (on every route that is not
public, found by walking ``app.routes``), a public address without one, the ``Host`` check against DNS
rebinding, refused uploads (wrong type, a renamed file whose bytes are not the format's, no name, names
with folders or NUL bytes, over-size bodies cut off while streaming), path traversal on every route that
takes a path parameter (again found by walking ``app.routes``, so a new route cannot escape), symlinks
in the work area, and the temporary files left after good, bad, refused and unfinished jobs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from neuronarrator.serve import ServeError, create_app, serve_main
from neuronarrator.serve.jobs import Job

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOKEN = "a-long-enough-test-token-0123456789"
KNOWN_ID = "KnownFailedJob_0123456"  # the server's id format: 22 characters of [A-Za-z0-9_-]
#: Routes anyone may call (no patient data): everything else must want the token.
PUBLIC = {"/healthz", "/docs-assets/{name}"}
SECRET = "TOP-SECRET-OUTSIDE-THE-WORK-AREA"


def _routes(routes, prefix: str = "") -> list[tuple[str, Route]]:
    """Every (path, route) of the app, included routers walked into (FastAPI >= 0.16x keeps an included
    router as one entry, not as copies of its routes)."""
    found = []
    for route in routes:
        if isinstance(route, Route):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):  # an included APIRouter
            found += _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "routes"):  # a Mount
            found += _routes(route.routes, prefix + route.path)
        else:
            raise AssertionError(f"a route this test cannot walk: {route!r}")
    return found


def _param_routes(app) -> list[tuple[str, Route]]:
    routes = [(path, r) for path, r in _routes(app.routes) if "{" in path]
    assert len(routes) >= 6, [path for path, _ in routes]  # the five job routes and /docs-assets/{name}
    return routes


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: value, path)


def _raw_get(app, raw_path: bytes, host: bytes = b"testserver") -> tuple[int, bytes]:
    """GET ``raw_path`` exactly as given (no client normalises ``..`` away), the way an ASGI server passes
    it: ``path`` percent-decoded once, ``raw_path`` as sent."""
    from urllib.parse import unquote_to_bytes

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
             "raw_path": raw_path, "root_path": "", "query_string": b"", "headers": [(b"host", host)],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}  # fmt: skip
    sent: list[dict] = []

    async def call() -> None:
        requested, done = False, asyncio.Event()

        async def receive() -> dict:  # the (empty) request, then a disconnect once the response is sent
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)

    asyncio.run(call())
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _multipart(filename: bytes | None, data: bytes, boundary: bytes = b"nnb0undary") -> tuple[bytes, dict]:
    """A one-file form built by hand, so that the file name can hold anything (NUL bytes, folders)."""
    disposition = b'form-data; name="file"' + (
        b'; filename="' + filename + b'"' if filename is not None else b""
    )
    body = (b"--" + boundary + b"\r\nContent-Disposition: " + disposition
            + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n")  # fmt: skip
    return body, {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}


@pytest.fixture(scope="module")
def edf_bytes(phantom_edfs) -> bytes:
    return phantom_edfs["b"].read_bytes()


@pytest.fixture
def app_and_area(tiny_model_dir, tmp_path):
    """An app whose worker never starts (no lifespan): jobs are listed but not run, for the checks that
    need no report. A failed job with a known id is in the store, so every job route has a real target."""
    app = create_app(tiny_model_dir, work_dir=tmp_path / "work")
    store = app.state.store
    store._jobs[KNOWN_ID] = Job(id=KNOWN_ID, filename="known.edf", folder=store.work_area / "gone",
                                status="failed", error="known.edf: broken", finished=time.time())  # fmt: skip
    yield app, store
    store.close()
    assert list((tmp_path / "work").iterdir()) == []


# -- the token --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.7", "example.org", "my-pc.local",
                                  "::ffff:10.0.0.1"])  # fmt: skip
@pytest.mark.parametrize("token", [None, ""])
def test_a_public_address_without_a_token_refuses_to_start(monkeypatch, host, token):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started"))
    with pytest.raises(ServeError, match="without a token"):
        serve_main(host, 8000, token=token)


def _serve_main_app(monkeypatch, tiny_model_dir, host: str, token: str | None):
    """The app :func:`serve_main` would run (uvicorn.run replaced by a catcher)."""
    import uvicorn

    caught = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: caught.update(app=app, **kwargs))
    assert serve_main(host, 8123, model=tiny_model_dir, token=token) == 0
    assert caught["host"] == host and caught["port"] == 8123
    return caught["app"]


def test_the_command_line_sets_the_queue_and_the_expiry(monkeypatch, tiny_model_dir):
    import uvicorn

    from neuronarrator.cli import main

    caught = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: caught.update(app=app))
    assert main(["serve", "--model", str(tiny_model_dir), "--max-jobs", "3", "--keep-hours", "0.5"]) == 0
    store = caught["app"].state.store
    try:
        assert store.max_jobs == 3 and store.keep_s == 1800.0
    finally:
        store.close()
    assert main(["serve", "--model", str(tiny_model_dir), "--max-jobs", "0"]) != 0


def test_loopback_answers_loopback_host_names_only(monkeypatch, tiny_model_dir):
    app = _serve_main_app(monkeypatch, tiny_model_dir, "127.0.0.1", None)
    try:
        for base in ("http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123"):
            response = TestClient(app, base_url=base).get("/")
            assert response.status_code == 200, base
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
        # a rebound domain (attacker.example -> 127.0.0.1) is refused, on every route
        for path in ("/", "/healthz", f"/api/jobs/{KNOWN_ID}", "/openapi.json"):
            response = TestClient(app, base_url="http://attacker.example:8123").get(path)
            assert response.status_code == 400 and "Host" in response.json()["detail"], path
        status, _ = _raw_get(app, b"/", host=b"127.0.0.1.attacker.example")
        assert status == 400
    finally:
        app.state.store.close()


def test_a_public_address_with_a_token_wants_it(monkeypatch, tiny_model_dir):
    app = _serve_main_app(monkeypatch, tiny_model_dir, "0.0.0.0", TOKEN)
    try:
        client = TestClient(app, base_url="http://eeg.hospital.example")  # any host name: it is public
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 401
        assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        app.state.store.close()


def test_every_route_but_the_public_ones_wants_the_token(tiny_model_dir, tmp_path, monkeypatch, edf_bytes):
    import neuronarrator.serve.app as app_module

    compared = []
    real = app_module.secrets.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.secrets, "compare_digest", spy)
    app = create_app(tiny_model_dir, token=TOKEN, work_dir=tmp_path / "work")
    store = app.state.store
    client = TestClient(app)
    wrong = [{}, {"headers": {"Authorization": "Bearer "}}, {"headers": {"Authorization": "Bearer wrong"}},
             {"headers": {"Authorization": f"Bearer {TOKEN[:-1]}"}},
             {"headers": {"Authorization": f"Bearer {TOKEN}x"}},
             {"headers": {"Authorization": f"Bearer {TOKEN.upper()}"}},
             {"headers": {"Authorization": f"Basic {TOKEN}"}}, {"params": {"token": TOKEN[1:]}},
             {"params": {"token": ""}}]  # fmt: skip
    try:
        routes = [(path, r) for path, r in _routes(app.routes) if path not in PUBLIC]
        expected = {"/", "/api/jobs", "/api/jobs/{job_id}", "/jobs/{job_id}/viewer", "/docs", "/openapi.json"}
        assert expected <= {path for path, _ in routes}
        for template, route in routes:
            path = _fill(template, KNOWN_ID)
            for method in sorted(route.methods - {"HEAD"}):
                for kwargs in wrong:
                    response = client.request(method, path, **kwargs)
                    assert response.status_code == 401, (method, path, kwargs, response.status_code)
                    assert response.headers["www-authenticate"] == "Bearer"
                    assert "known.edf" not in response.text
        assert compared and all(b == TOKEN.encode() for _, b in compared)  # compare_digest did every check
        # the right token, either way, passes (the job routes then say what they know of the id)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get(f"/api/jobs/{KNOWN_ID}", headers=bearer).status_code == 404
        assert client.get(f"/api/jobs/{KNOWN_ID}", params={"token": TOKEN}).status_code == 404
        # an upload without the token is refused before a byte is stored
        response = client.post("/api/jobs", files={"file": ("x.edf", edf_bytes)})
        assert response.status_code == 401 and list(store.work_area.iterdir()) == []
        for path in PUBLIC:
            assert client.get(_fill(path, "swagger-ui.css")).status_code == 200, path
    finally:
        store.close()


# -- uploads ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("filename", "data", "status", "says"), [
    (b"fake.edf", b"This is a text file renamed to .edf, not a recording.\n" * 10, 415, "not a .edf recording"),
    (b"program.bdf", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(500), 415, "not a .bdf recording"),
    (b"raw.fif", b"0       " + bytes(500), 415, "not a .fif recording"),
    (b"tiny.edf", b"0  ", 415, "not a .edf recording"),  # shorter than the signature
    (b"setup.exe", b"MZ\x90\x00" + bytes(500), 415, "'.exe'"),
    (b"archive.edf.zip", b"PK\x03\x04" + bytes(100), 415, "'.zip'"),
    (b"x.edf\x00.txt", b"0       " + bytes(300), 415, "'.txt'"),
    (b"", b"0       " + bytes(300), 415, "(no extension)"),
    (b"noextension", b"0       " + bytes(300), 415, "(no extension)"),
    (None, b"0       " + bytes(300), 400, "no file"),  # a plain field: no file at all
    (b"empty.edf", b"", 400, "empty"),
])  # fmt: skip
def test_bad_uploads_are_refused_with_a_json_error_and_leave_nothing(
    app_and_area, filename, data, status, says
):
    app, store = app_and_area
    body, headers = _multipart(filename, data)
    response = TestClient(app).post("/api/jobs", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert says in response.json()["detail"]
    assert list(store.work_area.iterdir()) == []
    assert store.counts() == {"queued": 0, "running": 0, "done": 0, "failed": 1}  # the known job only


@pytest.mark.parametrize("filename", [b"../../x.edf", b"/etc/cron.d/x.edf", b"..\\..\\x.edf", b"C:\\Windows\\x.edf",
                                      b"x\x00.edf", b"%2e%2e%2fx.edf", b"....//x.edf", b"\xff\xfe/x.edf"])  # fmt: skip
def test_names_with_folders_or_nul_bytes_land_as_a_base_name_in_the_jobs_folder(app_and_area, tmp_path,
                                                                               edf_bytes, filename):  # fmt: skip
    app, store = app_and_area
    seen = []

    def submit(job: Job) -> None:  # instead of queueing: where did the upload land?
        seen.append((job, job.upload.resolve(), job.upload.read_bytes()))
        store.discard(job)

    store.submit = submit
    body, headers = _multipart(filename, edf_bytes)
    response = TestClient(app).post("/api/jobs", content=body, headers=headers)
    assert response.status_code == 202, response.text
    [(job, where, stored)] = seen
    assert where.parent.parent == store.work_area.resolve() and where.parent.name.startswith("job-")
    assert stored == edf_bytes and job.sha256 == hashlib.sha256(edf_bytes).hexdigest()
    assert job.filename.endswith(".edf") and not re.search(r"[/\\\x00]", job.filename)
    assert Path(job.filename).name == job.filename and not job.filename.startswith(".")
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []  # nothing written anywhere else


def test_an_oversized_upload_is_cut_off_while_streaming(tiny_model_dir, tmp_path, edf_bytes):
    limit = 4096
    app = create_app(tiny_model_dir, max_upload_mb=limit / 2**20, work_dir=tmp_path / "work")
    store = app.state.store
    partial_sizes, new_jobs = [], []
    discard, new_job = store.discard, store.new_job

    def spy_discard(job):
        partial_sizes.append(job.upload.stat().st_size if job.upload.exists() else 0)
        discard(job)

    store.discard = spy_discard
    store.new_job = lambda name: new_jobs.append(name) or new_job(name)
    try:
        client = TestClient(app)
        response = client.post("/api/jobs", files={"file": ("big.edf", edf_bytes)})  # Content-Length: too big
        assert response.status_code == 413 and new_jobs == []  # refused before any folder was made
        body, headers = _multipart(b"big.edf", edf_bytes)

        def chunked():  # no Content-Length: counted as it arrives
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        response = client.post("/api/jobs", content=chunked(), headers=headers)
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        assert new_jobs == ["big.edf"] and partial_sizes and partial_sizes[0] <= limit < len(edf_bytes)
        assert list(store.work_area.iterdir()) == []
    finally:
        store.close()
    assert list((tmp_path / "work").iterdir()) == []


# -- path traversal ---------------------------------------------------------------------------------------
TRAVERSALS = [
    b"..", b"../../../../etc/passwd", b"..%2F..%2F..%2Fetc%2Fpasswd", b"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", b"%252e%252e%252fetc%252fpasswd", b"..%252f..%252fetc%252fpasswd",
    b"%c0%ae%c0%ae%c0%afetc%c0%afpasswd", b"..\\..\\etc\\passwd", b"..%5c..%5cetc%5cpasswd", b"/etc/passwd",
    b"%2Fetc%2Fpasswd", b"....//....//etc/passwd", b"%00", b"x%00.png", b"AAAAAAAAAAAAAAAAAAAAAA%00",
    b"A" * 65, b"known_id_but_%2e%2e", b"outside-link-AAAAAAAAAA",
]  # fmt: skip


def test_no_route_with_a_path_parameter_reads_outside(app_and_area, tmp_path):
    app, store = app_and_area
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("report.json", "page.png", "viewer", "swagger-ui.css", "passwd"):
        (outside / name).write_text(SECRET)
    # symlinks in the work area, named like a job id and like the job folders, pointing outside
    (store.work_area / "outside-link-AAAAAAAAAA").symlink_to(outside, target_is_directory=True)
    (store.work_area / "job-outside").symlink_to(outside, target_is_directory=True)
    payloads = [*TRAVERSALS, str(outside).encode(), str(outside / "passwd").encode().replace(b"/", b"%2F"),
                b"job-outside", b"..%2Foutside%2Fpasswd", b"swagger-ui.css%2F..%2F..%2F__init__.py"]  # fmt: skip
    reachable = {"job_id": KNOWN_ID, "name": "swagger-ui.css"}
    for template, route in _param_routes(app):
        params = re.findall(r"\{([^}:]+)", template)
        assert set(params) <= set(reachable), f"new path parameter in {template}: add it to this test"
        good = _fill(template, reachable[params[0]])
        status, _ = _raw_get(app, good.encode())
        assert status not in (404, 405), (good, status)  # the route itself is reached with a real value
        for payload in payloads:
            raw = _fill(template, "\x00").encode().replace(b"\x00", payload)
            status, body = _raw_get(app, raw)
            assert status in (400, 404), (raw, status)
            assert SECRET.encode() not in body and b"root:" not in body, raw
            if isinstance(route, APIRoute) and template.startswith("/api/") and body:
                assert isinstance(json.loads(body)["detail"], str)
    assert (outside / "passwd").read_text() == SECRET
    store.close()  # removing the work area removes the links, never what they point to
    assert sorted(p.name for p in outside.iterdir()) == ["page.png", "passwd", "report.json", "swagger-ui.css",
                                                         "viewer"]  # fmt: skip


# -- what is kept, and temporary files --------------------------------------------------------------------
def test_temporary_files_are_gone_after_good_bad_refused_and_unfinished_jobs(tiny_model_dir, phantom_edfs,
                                                                               tmp_path, monkeypatch):  # fmt: skip
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))  # anything made by tempfile lands here
    app = create_app(tiny_model_dir)  # work area in the (private) system temporary folder
    store = app.state.store
    with TestClient(app) as client:
        ids = {}
        for name, key in (("good.edf", "b"), ("corrupt.edf", "bad")):
            response = client.post("/api/jobs", files={"file": (name, phantom_edfs[key].read_bytes())})
            assert response.status_code == 202
            ids[name] = response.json()["id"]
        assert client.post("/api/jobs", files={"file": ("x.edf", b"not an edf" * 10)}).status_code == 415
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = {n: client.get(f"/api/jobs/{i}").json()["status"] for n, i in ids.items()}
            if set(statuses.values()) <= {"done", "failed"}:
                break
            time.sleep(0.2)
        assert statuses == {"good.edf": "done", "corrupt.edf": "failed"}
        document = client.get(f"/api/jobs/{ids['good.edf']}/report.json").json()
        good = phantom_edfs["b"].read_bytes()
        assert document["recording"]["sha256"] == hashlib.sha256(good).hexdigest()
        assert document["recording"]["bytes"] == len(good)
        assert [p.name for p in system_tmp.iterdir()] == [store.work_area.name]
        assert list(store.work_area.iterdir()) == []  # both uploads deleted once read; the refused one too
        for _ in range(3):  # queued, never to run: the server stops first
            assert client.post("/api/jobs", files={"file": ("late.edf", good)}).status_code == 202
    assert list(system_tmp.iterdir()) == []  # shutdown removed the work area and everything in it


def test_finished_jobs_are_forgotten_after_keep_hours(tiny_model_dir, tmp_path):
    app = create_app(tiny_model_dir, work_dir=tmp_path, keep_hours=1)
    store = app.state.store
    try:
        client = TestClient(app)
        for i, age_h in enumerate((0.5, 1.5, None)):  # None: still running, never expires
            job = Job(id=f"Expiry{i}_AAAAAAAAAAAAAAA", filename=f"{i}.edf", folder=tmp_path / "gone",
                      status="done" if age_h else "running",
                      finished=time.time() - age_h * 3600 if age_h else None)  # fmt: skip
            store._jobs[job.id] = job
        assert client.get("/api/jobs/Expiry0_AAAAAAAAAAAAAAA").status_code == 200
        assert client.get("/api/jobs/Expiry1_AAAAAAAAAAAAAAA").status_code == 404
        assert client.get("/api/jobs/Expiry2_AAAAAAAAAAAAAAA").json()["status"] == "running"
        assert client.get("/healthz").json()["jobs"] == {"queued": 0, "running": 1, "done": 1, "failed": 0}
        assert "Expiry1_AAAAAAAAAAAAAAA" not in store._jobs
    finally:
        store.close()
