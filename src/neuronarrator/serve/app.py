"""``neuronarrator serve``: the web app (FastAPI). Upload a recording, follow its job, read the report.

Routes (``{id}`` is a job's random id; an unknown, forgotten or malformed one is 404):

=========================================  ===========================================================
``GET /``                                  the upload page (a form and a few lines of script)
``POST /api/jobs``                         upload one .edf/.bdf/.fif (multipart, field ``file``) → 202
``GET /api/jobs/{id}``                     the job's status: queued, running (and its stage), done, failed
``GET /api/jobs/{id}/report.json``         the report document (409 until done; 422 with the error if failed)
``GET /api/jobs/{id}/page.png?start_s=``   a 10-s page of the recording, its evidence shaded
``GET /jobs/{id}``                         the HTML report, with links to the viewer
``GET /jobs/{id}/viewer?start_s=``         the EEG viewer: pages, previous/next, the evidence spans
``GET /healthz``                           liveness and the model's state (never needs the token)
``GET /docs``, ``GET /openapi.json``       the API's documentation
=========================================  ===========================================================

Errors are ``{"detail": "..."}`` on ``/api`` routes and a short HTML page on the others; a bad upload
fails its own request or job and nothing else. No route reads a file named by a request: uploads go into
folders the server names, reports and pictures are served from memory (:mod:`neuronarrator.serve.jobs`).

Security: :func:`serve_main` binds 127.0.0.1 unless told otherwise and refuses any other address without a
token; with a token every route but ``/healthz`` (and Swagger UI's three public files) wants
``Authorization: Bearer <token>`` or ``?token=`` (the pages carry it on in their links), compared in
constant time. Bound to loopback, the app answers only requests addressed to a loopback name (the ``Host``
header), so a web page whose domain is re-pointed at 127.0.0.1 (DNS rebinding) cannot read the reports.
Every response says ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` (links carry the token) and, unless it says otherwise, ``Cache-Control:
no-store`` (reports are patient data). Upload checks: :mod:`neuronarrator.serve.upload`; what is kept and
for how long: :mod:`neuronarrator.serve.jobs`.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import math
import re
import secrets
import shutil
import tempfile
import weakref
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from neuronarrator.io.errors import NeuroNarratorError
from neuronarrator.io.json_output import dumps
from neuronarrator.serve import pages
from neuronarrator.serve.jobs import FIGURE_LOCK, Job, JobStore
from neuronarrator.serve.upload import SUFFIXES, receive_upload

__all__ = ["ServeError", "create_app", "serve_main"]


class ServeError(NeuroNarratorError):
    """The server cannot start as asked (e.g. a public address without a token)."""


# -- response models (the OpenAPI schema) --------------------------------------------------------------
class ErrorDetail(BaseModel):
    detail: str = Field(description="What went wrong, in one line.")


class JobCreated(BaseModel):
    id: str = Field(description="The job's id (random; keep it: there is no list of jobs).")
    status_url: str = Field(description="Poll this for the job's status.")


class JobStatus(BaseModel):
    id: str
    filename: str = Field(description="The uploaded file's base name.")
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(None, description="While running: reading, narrating, figures or rendering.")
    error: str | None = Field(None, description="Why a failed job failed: one line naming the file.")
    report_url: str | None = Field(None, description="The HTML report, once done.")
    report_json_url: str | None = Field(None, description="The report document, once done.")
    viewer_url: str | None = Field(None, description="The EEG viewer, once done.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: Literal["not loaded", "loading", "ready", "failed"]
    jobs: dict[str, int]


class ReportDocumentModel(BaseModel):
    """The report document (DESIGN.md, "The report document"); more keys than these are sent."""

    model_config = ConfigDict(extra="allow")
    recording: dict[str, Any]
    state: str | None = None
    impression: str | None = None
    findings: list[dict[str, Any]]
    narrative: dict[str, Any]
    quality: dict[str, Any] = {}
    model: dict[str, Any] = {}


#: The bearer token (module level: the route signatures are read with this module's globals).
_BEARER = HTTPBearer(auto_error=False, description="The token the server was started with.")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorDetail} for code in codes}


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": f"The recording: one of {', '.join(SUFFIXES)}."}}}}}}}  # fmt: skip


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/api", "/openapi.json", "/healthz")


def _one_line(errors: Any) -> str:
    """RequestValidationError's list as one line: ``start_s: Input should be a valid number``."""
    parts = []
    for e in errors if isinstance(errors, list) else [errors]:
        if isinstance(e, dict):
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        else:
            parts.append(str(e))
    return "; ".join(parts) or "invalid request"


def create_app(model: str | Path | None = None, *, token: str | None = None, max_upload_mb: float = 512,
               work_dir: Path | None = None, max_jobs: int = 32, max_kept_mb: float = 1024,
               keep_hours: float = 24.0, allowed_hosts: Collection[str] | None = None) -> FastAPI:  # fmt: skip
    """The web app (module docstring).

    ``model``: a model directory (None: the bundled model), checked now and loaded once, by the worker,
    when the app starts; ``token``: required of every request but ``/healthz`` when set; ``max_upload_mb``:
    the largest file accepted; ``work_dir``: where the work area (a fresh :func:`tempfile.mkdtemp` folder,
    removed at shutdown) is made (None: the system's temporary folder); ``max_jobs``, ``max_kept_mb`` and
    ``keep_hours`` bound what finished jobs keep in memory (:class:`~neuronarrator.serve.jobs.JobStore`);
    ``allowed_hosts``: the host names requests may be addressed to (None: any; :func:`serve_main` passes
    the loopback names when it binds loopback).

    Raises :class:`~neuronarrator.narrator.bundled.ModelNotFoundError` when ``model`` is no model directory.
    """
    from neuronarrator.narrator.bundled import resolve_model

    model_paths = resolve_model(model)
    token = token or None
    max_bytes = int(max_upload_mb * 2**20)
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    area = Path(tempfile.mkdtemp(prefix="neuronarrator-serve-", dir=work_dir))
    store = JobStore(model_paths, area, max_jobs=max_jobs, max_kept_mb=max_kept_mb, keep_hours=keep_hours,
                     token=token)  # fmt: skip
    weakref.finalize(store, shutil.rmtree, str(area), True)  # should the app never shut down

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.start()
        try:
            yield
        finally:
            store.close()

    def authorize(credentials: _Credentials,
                  query_token: Annotated[str | None, Query(alias="token", include_in_schema=False)] = None,
                  ) -> None:  # fmt: skip
        given = credentials.credentials if credentials is not None else query_token
        if token is not None and not (given and secrets.compare_digest(given.encode(), token.encode())):
            raise HTTPException(401, "a token is required: send 'Authorization: Bearer <token>' or add "
                                     "?token=<token> to the address", headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    guarded = [Depends(authorize)] if token is not None else []
    app = FastAPI(title="neuronarrator", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Clinical EEG in; findings and a narrative report out (a draft for a clinician's "
                              "review, not a diagnosis). Upload a recording, poll its job, fetch the report.")  # fmt: skip
    app.state.store = store
    router = APIRouter(dependencies=guarded)  # every route but /healthz
    app.state.max_upload_bytes = max_bytes

    def page_token(request: Request) -> str | None:
        """The request's ``?token=`` when it is the right one (carried on in the links of pages)."""
        given = request.query_params.get("token")
        if token is not None and given and secrets.compare_digest(given.encode(), token.encode()):
            return given
        return None

    # -- errors ---------------------------------------------------------------------------------------
    def error_response(
        request: Request, status: int, detail: str, headers: dict[str, str] | None = None
    ) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": detail}, status, headers=headers)
        try:
            title = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            title = str(status)
        return HTMLResponse(
            pages.message_page(title, detail, token=page_token(request)), status, headers=headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        detail = error.detail if isinstance(error.detail, str) else _one_line(error.detail)
        return error_response(request, error.status_code, detail, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return error_response(request, 422, _one_line(error.errors()))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> Response:
        return error_response(request, 500, "internal error; the server's log has the details")

    def job_or_404(job_id: str) -> Job:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(
                404, "no such job (unknown id, or forgotten: the server keeps the latest jobs only)"
            )
        return job

    def finished(job: Job) -> Job:
        """The job if done; 409 while it runs, 422 with its error if it failed."""
        if job.status == "failed":
            raise HTTPException(422, job.error or "the job failed")
        if job.status != "done":
            raise HTTPException(409, f"the job is {job.status}; poll /api/jobs/{job.id} until it is done")
        return job

    def checked_start(job: Job, start_s: float) -> float:
        if not math.isfinite(start_s) or not 0.0 <= start_s < job.duration_s:
            raise HTTPException(422, f"start_s must be a number of seconds from 0 to under {job.duration_s:g}, "
                                     f"the recording's duration")  # fmt: skip
        return round(float(start_s), 3)

    # -- the JSON API -----------------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness and the model's state", response_model=Health, tags=["service"])
    def healthz() -> Health:
        return Health(model=store.model_state, jobs=store.counts())

    @router.post("/api/jobs", status_code=202, response_model=JobCreated, tags=["jobs"],
                 summary="Upload one recording (.edf, .bdf or .fif) to be reported",
                 responses=_errors(400, 401, 413, 415, 503), openapi_extra=_UPLOAD_BODY)  # fmt: skip
    async def create_job(request: Request) -> JobCreated:
        job = await receive_upload(request, store, max_bytes)
        store.submit(job)
        return JobCreated(id=job.id, status_url=f"/api/jobs/{job.id}")

    @router.get("/api/jobs/{job_id}", response_model=JobStatus, summary="A job's status", tags=["jobs"],
                responses=_errors(401, 404))  # fmt: skip
    def job_status(job_id: str) -> JobStatus:
        job = job_or_404(job_id)
        done = job.status == "done"
        return JobStatus(id=job.id, filename=job.filename, status=job.status, stage=job.stage, error=job.error,
                         report_url=f"/jobs/{job.id}" if done else None,
                         report_json_url=f"/api/jobs/{job.id}/report.json" if done else None,
                         viewer_url=f"/jobs/{job.id}/viewer" if done else None)  # fmt: skip

    @router.get("/api/jobs/{job_id}/report.json", summary="The report document of a finished job", tags=["jobs"],
                response_class=Response, responses={200: {"model": ReportDocumentModel,
                                                          "content": {"application/json": {}}},
                                                    **_errors(401, 404, 409, 422)})  # fmt: skip
    def report_json(job_id: str) -> Response:
        job = finished(job_or_404(job_id))
        return Response(dumps(job.document), media_type="application/json")

    @router.get("/api/jobs/{job_id}/page.png", summary="A 10-s page of the recording (PNG), evidence shaded",
                tags=["jobs"], response_class=Response,
                responses={200: {"content": {"image/png": {}}}, **_errors(401, 404, 409, 422)})  # fmt: skip
    def page_png(
        job_id: str, start_s: float = Query(0.0, description="The page's first second.")
    ) -> Response:
        job = finished(job_or_404(job_id))
        start = checked_start(job, start_s)
        png = job.pages.get(start)
        if png is None:
            from neuronarrator.report.figures import eeg_page_png

            end = min(start + pages.PAGE_S, job.duration_s)
            spans = [(s["start_s"], s["end_s"], s["channels"]) for s in pages.evidence_spans(job.document or {})
                     if s["start_s"] < end and s["end_s"] > start]  # fmt: skip
            title = f"{job.filename}: {pages.fmt_s(start)}–{pages.fmt_s(end)} s"
            with FIGURE_LOCK:
                png = eeg_page_png(job.data_uv, job.channel_mask, job.montage, start, end, spans, title)
            store.cache_page(job, start, png)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    # -- the pages --------------------------------------------------------------------------------------
    @router.get("/", response_class=HTMLResponse, summary="The upload page", tags=["pages"])
    def home(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.upload_page(max_upload_mb, SUFFIXES, token=page_token(request)))

    def page_job(request: Request, job_id: str) -> Job | HTMLResponse:
        job = job_or_404(job_id)
        if job.status in ("queued", "running"):
            message = (
                f"{job.filename} is {job.stage or job.status}; this page reloads until the report is ready."
            )
            return HTMLResponse(pages.message_page("Working…", message, token=page_token(request), refresh_s=2),
                                202)  # fmt: skip
        return finished(job)

    @router.get(
        "/jobs/{job_id}", response_class=HTMLResponse, summary="The HTML report of a job", tags=["pages"]
    )
    def report_page(request: Request, job_id: str) -> HTMLResponse:
        job = page_job(request, job_id)
        if isinstance(job, HTMLResponse):
            return job
        return HTMLResponse(pages.report_page(job.html or "", job.id, token=page_token(request)))

    @router.get("/jobs/{job_id}/viewer", response_class=HTMLResponse, summary="The EEG viewer of a job",
                tags=["pages"])  # fmt: skip
    def viewer(request: Request, job_id: str, start_s: float = Query(0.0)) -> HTMLResponse:
        job = page_job(request, job_id)
        if isinstance(job, HTMLResponse):
            return job
        start = checked_start(job, start_s)
        return HTMLResponse(pages.viewer_page(job.id, job.filename, job.document or {}, start, job.duration_s,
                                              token=page_token(request)))  # fmt: skip

    @router.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        url = html.unescape(pages.link("/openapi.json", page_token(request)))
        return get_swagger_ui_html(openapi_url=url, title="neuronarrator API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")  # fmt: skip

    @app.get("/docs-assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        """Swagger UI's own files, from the swagger-ui-bundle package (FastAPI's default fetches them from
        a CDN, which an offline machine cannot reach): three fixed names, nothing else is served."""
        if name not in _DOCS_ASSETS:
            raise HTTPException(404, "no such file")
        from swagger_ui_bundle import swagger_ui_path

        return FileResponse(Path(swagger_ui_path) / name, media_type=_DOCS_ASSETS[name])

    app.include_router(router)
    app.add_middleware(_Guard, hosts=allowed_hosts)
    return app


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, port and IPv6 brackets dropped, lower case: ``[::1]:80`` → ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class _Guard:
    """Pure ASGI middleware (the upload's body stream passes untouched): refuses a request whose ``Host``
    is not one of ``hosts`` (400; None lets any through) and adds the security headers to every response
    (module docstring)."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"))  # fmt: skip

    def __init__(self, app: Any, hosts: Collection[str] | None) -> None:
        self.app = app
        self.hosts = None if hosts is None else {host_name(h) for h in hosts}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.hosts is not None:
            given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if host_name(given) not in self.hosts:
                response = JSONResponse({"detail": "this server answers requests to "
                                         f"{', '.join(sorted(self.hosts))} only (the Host header)"}, 400)  # fmt: skip
                return await self._secured(response, scope, receive, send)

        async def secured_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured_send)

    async def _secured(self, response: Response, scope: Any, receive: Any, send: Any) -> None:
        response.headers.update({k.decode(): v.decode() for k, v in self.HEADERS})
        response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)


#: The Swagger UI files /docs needs: name → media type (public static files, like /healthz needing no token).
_DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                "favicon-32x32.png": "image/png"}  # fmt: skip


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("neuronarrator")
    except Exception:  # not installed: running from a source tree
        return "0"


#: The names a loopback-bound server answers to (and the address it was bound to).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def serve_main(host: str = "127.0.0.1", port: int = 8000, model: str | Path | None = None,
               token: str | None = None, max_upload_mb: float = 512, max_jobs: int = 32,
               keep_hours: float = 24.0) -> int:  # fmt: skip
    """Run the web app with uvicorn until interrupted; 0 when it stops.

    Raises
    ------
    ServeError
        ``host`` is not a loopback address and no ``token`` was given (anyone who can reach the machine
        could upload recordings and read every report).
    ModelNotFoundError
        ``model`` names no model directory.
    """
    import uvicorn

    if not is_loopback(host) and not token:
        raise ServeError(f"refusing to serve on {host} without a token: anyone who can reach it could upload "
                         "recordings and read the reports; pass a token, or bind 127.0.0.1")  # fmt: skip
    if max_upload_mb <= 0:
        raise ServeError(f"the upload limit must be positive, not {max_upload_mb:g} MB")
    if max_jobs < 1 or keep_hours <= 0:
        raise ServeError(f"--max-jobs must be at least 1 and --keep-hours positive, not {max_jobs} and {keep_hours:g}")
    local = is_loopback(host)
    app = create_app(model, token=token, max_upload_mb=max_upload_mb, max_jobs=max_jobs, keep_hours=keep_hours,
                     allowed_hosts=(*LOOPBACK_NAMES, host) if local else None)  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{int(port)}/" + (f"?token={token}" if token else "")
    print(f"neuronarrator serve: open {url}  (Ctrl+C stops it)", flush=True)
    redact = _RedactToken()
    logging.getLogger("uvicorn.access").addFilter(redact)
    try:
        uvicorn.run(app, host=host, port=int(port), log_level="info")
    finally:
        logging.getLogger("uvicorn.access").removeFilter(redact)
    return 0


class _RedactToken(logging.Filter):
    """Keep ``?token=`` values out of the access log (uvicorn logs each request's path and query)."""

    _PATTERN = re.compile(r"(?<=[?&]token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._PATTERN.sub("***", a) if isinstance(a, str) else a for a in record.args)
        return True
