"""The web app's jobs: an in-memory store, bounded, and the one worker thread that runs them in order.

A job is one uploaded recording. :meth:`JobStore.new_job` gives it a random id
(:func:`secrets.token_urlsafe`) and its own folder, made with :func:`tempfile.mkdtemp` inside the store's
work area; the upload is streamed into that folder under its (sanitised) base name, and
:meth:`JobStore.submit` queues it. The worker thread takes jobs one at a time, in the order they were
submitted (the models are small and the machine may have two cores: a second worker would only make both
jobs slower), and for each:

1. reads and harmonizes the file (:func:`~neuronarrator.narrator.pipeline.recording_signal`), then deletes
   the job's folder, upload included, whether the read succeeded or not;
2. narrates it with the one :class:`~neuronarrator.narrator.pipeline.Narrator`, loaded when the worker
   starts and reused for every job;
3. draws the figures and renders the HTML page (:mod:`neuronarrator.report.html`).

A job that fails keeps the error as one line that names the uploaded file (never the server's folders).
What a finished job keeps in memory -- the report document, the HTML page, the harmonized signal the EEG
viewer draws pages from and a few of those pages -- is bounded: at most ``max_jobs`` jobs are kept and at
most ``max_kept_mb`` of signal; beyond either the oldest finished jobs are forgotten (their ids then answer
404), and so is any job finished more than ``keep_hours`` ago (a report of a patient's recording is not
kept by a forgotten server for ever). Nothing of a job is ever on disk after its file was read; the report
document records the upload's SHA-256 and size (``recording.sha256``, ``recording.bytes``) instead of the
server's path. :meth:`JobStore.close` stops the worker and removes the work area.

Matplotlib's pyplot is not thread-safe: every drawing (the worker's figures, the viewer's pages drawn in
the web server's threads) holds :data:`FIGURE_LOCK`.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np

from neuronarrator.io.errors import NeuroNarratorError

__all__ = ["FIGURE_LOCK", "Job", "JobStore", "QueueFullError", "safe_filename"]

log = logging.getLogger(__name__)

#: Held by every matplotlib drawing of the app (pyplot keeps global state).
FIGURE_LOCK = threading.Lock()
#: Job ids are ``secrets.token_urlsafe(16)``: 22 characters of ``[A-Za-z0-9_-]``.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
JobState = Literal["queued", "running", "done", "failed"]
#: EEG viewer pages kept per job (PNG bytes, about 50 kB each).
PAGE_CACHE = 24
_MAX_ERROR_CHARS = 400


class QueueFullError(Exception):
    """As many jobs as the store keeps are waiting or running already."""


def safe_filename(name: str | None, suffix: str) -> str:
    """The base name of a client's file name, made safe to use as a file name and to show: folders dropped,
    characters outside ``[A-Za-z0-9._()+ -]`` replaced, at most 100 characters, ending in ``suffix``."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    stem = base[: -len(suffix)] if base.lower().endswith(suffix) else base
    stem = re.sub(r"[^A-Za-z0-9._()+ -]", "_", stem).strip(" .")[:100] or "recording"
    return stem + suffix


@dataclass
class Job:
    """One upload and what became of it."""

    id: str
    filename: str
    folder: Path
    created: float = field(default_factory=time.time)
    status: JobState = "queued"
    stage: str | None = None
    error: str | None = None
    finished: float | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    document: dict[str, Any] | None = None
    html: str | None = None
    data_uv: np.ndarray | None = None
    channel_mask: np.ndarray | None = None
    montage: str = "referential"
    pages: OrderedDict[float, bytes] = field(default_factory=OrderedDict)

    @property
    def upload(self) -> Path:
        return self.folder / self.filename

    @property
    def duration_s(self) -> float:
        return 0.0 if self.data_uv is None else self.data_uv.shape[1] / 200.0

    @property
    def kept_bytes(self) -> int:
        signal = 0 if self.data_uv is None else self.data_uv.nbytes
        return signal + len(self.html or "") + sum(map(len, self.pages.values()))

    def scrub(self, text: str) -> str:
        """``text`` with the job's folder removed from any path in it (the file then reads as its name)."""
        folder = str(self.folder)
        return text.replace(folder + "/", "").replace(folder + "\\", "").replace(folder, self.filename)


def _scrub_value(value: Any, job: Job) -> Any:
    if isinstance(value, str):
        return job.scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v, job) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v, job) for v in value]
    return value


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class JobStore:
    """Jobs by id, the queue, the worker and the model (module docstring).

    ``model_paths``: a :class:`~neuronarrator.narrator.bundled.ModelPaths`; ``work_area``: an empty folder
    the store owns (removed by :meth:`close`); ``narrator_factory``: builds the narrator (tests; default
    :class:`~neuronarrator.narrator.pipeline.Narrator` from the model's two checkpoints).
    """

    def __init__(self, model_paths: Any, work_area: Path, *, max_jobs: int = 32, max_kept_mb: float = 1024,
                 keep_hours: float = 24.0, narrator_factory: Any = None, token: str | None = None) -> None:  # fmt: skip
        self.model_paths = model_paths
        self.token = token  # carried by the report page's links to the viewer
        self.work_area = Path(work_area)
        self.max_jobs = max(1, int(max_jobs))
        self.max_kept_bytes = int(max_kept_mb * 2**20)
        self.keep_s = float(keep_hours) * 3600.0
        self._factory = narrator_factory
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._uploading = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._narrator: Any = None
        self.model_state: Literal["not loaded", "loading", "ready", "failed"] = "not loaded"
        self.model_error: str | None = None

    # -- the store -------------------------------------------------------------------------------------
    def new_job(self, filename: str) -> Job:
        """A job for an upload about to be received: its id and its own (empty) folder. Not yet listed:
        :meth:`submit` lists and queues it, :meth:`discard` drops it. QueueFullError when ``max_jobs``
        jobs are waiting, running or uploading already."""
        with self._lock:
            if self._closed:
                raise QueueFullError("the server is shutting down")
            pending = sum(j.status in ("queued", "running") for j in self._jobs.values()) + self._uploading
            if pending >= self.max_jobs:
                raise QueueFullError(f"{pending} recordings are waiting already; try again in a few minutes")
            job_id = secrets.token_urlsafe(16)
            while job_id in self._jobs:  # pragma: no cover - 128 random bits
                job_id = secrets.token_urlsafe(16)
            # made under the lock: close() cannot remove the work area between the check and the folder
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.work_area))
            self._uploading += 1
        return Job(id=job_id, filename=filename, folder=folder)

    def discard(self, job: Job) -> None:
        """Drop a job whose upload was refused: its folder and its place in the count."""
        shutil.rmtree(job.folder, ignore_errors=True)
        with self._lock:
            self._uploading -= 1

    def submit(self, job: Job) -> None:
        """List ``job`` (its upload is complete) and queue it behind the others."""
        with self._lock:
            self._uploading -= 1
            self._jobs[job.id] = job
        self.start()
        self._queue.put(job.id)

    def get(self, job_id: str) -> Job | None:
        """The job with this id; None for an unknown, forgotten or malformed id."""
        if not isinstance(job_id, str) or not ID_PATTERN.fullmatch(job_id):
            return None
        with self._lock:
            self._expire()
            return self._jobs.get(job_id)

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._expire()
            jobs = list(self._jobs.values())
        return {s: sum(j.status == s for j in jobs) for s in ("queued", "running", "done", "failed")}

    # -- the worker ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker (once; it loads the model first)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._work, name="neuronarrator-serve-worker", daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the worker after the job it is running (queued jobs are dropped) and remove the work area."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)
        shutil.rmtree(self.work_area, ignore_errors=True)

    def _model(self) -> Any:
        if self._narrator is None and self.model_state != "failed":
            self.model_state = "loading"
            try:
                if self._factory is not None:
                    self._narrator = self._factory()
                else:
                    from neuronarrator.narrator.pipeline import Narrator

                    self._narrator = Narrator(self.model_paths.stage1, self.model_paths.narrator)
                self.model_state = "ready"
            except Exception as error:  # reported on every job and by /healthz
                log.exception("the model could not be loaded")
                self.model_state = "failed"
                self.model_error = _one_line(f"{type(error).__name__}: {error}")
        if self._narrator is None:
            raise NeuroNarratorError("the server's model could not be loaded; see the server's log")
        return self._narrator

    def _work(self) -> None:
        try:
            self._model()
        except NeuroNarratorError:
            pass  # each job will say so
        while True:
            job_id = self._queue.get()
            if job_id is None or self._closed:
                return
            job = self.get(job_id)
            if job is not None:
                self._run(job)
                self._evict(keep=job)

    def _run(self, job: Job) -> None:
        from neuronarrator.narrator.pipeline import recording_signal
        from neuronarrator.report.html import render_html, report_figures

        job.status = "running"
        try:
            job.stage = "reading"
            try:
                signal, info = recording_signal(job.upload)
            finally:
                shutil.rmtree(job.folder, ignore_errors=True)  # the upload is not kept past its reading
            job.stage = "narrating"
            narrator = self._model()
            document = narrator.document(signal, info, model_name=self.model_paths.name).to_dict()
            document = _scrub_value(document, job)
            recording = document.setdefault("recording", {})
            recording.update(file=job.filename, sha256=job.sha256, bytes=job.size_bytes)
            for key, value in list(document.get("model", {}).items()):  # the server's folders stay private
                if key.endswith("_checkpoint") and value:
                    document["model"][key] = Path(str(value)).name
            job.stage = "figures"
            with FIGURE_LOCK:
                figures = report_figures(document, signal.data_uv, signal.channel_mask, signal.montage)
            job.stage = "rendering"
            viewer = f"/jobs/{job.id}/viewer"
            query = {"token": self.token} if self.token else {}
            job.html = render_html(document, figures, title=f"EEG report: {job.filename}",
                                   viewer_href=lambda s: viewer + "?" + urlencode({"start_s": f"{s:g}", **query}))  # fmt: skip
            job.data_uv = np.ascontiguousarray(signal.data_uv, dtype=np.float32)
            job.channel_mask = np.asarray(signal.channel_mask, bool)
            job.montage = signal.montage
            job.document = document
            job.status, job.stage = "done", None
        except NeuroNarratorError as error:
            job.error = _one_line(job.scrub(str(error)))
            job.status = "failed"
        except Exception as error:  # a bad file must never stop the worker
            log.exception("job %s (%s) failed", job.id, job.filename)
            detail = _one_line(job.scrub(f"{type(error).__name__}: {error}"))
            job.error = _one_line(f"{job.filename}: could not be processed ({detail})")
            job.status = "failed"
        finally:
            job.finished = time.time()
            shutil.rmtree(job.folder, ignore_errors=True)

    def _evict(self, keep: Job | None = None) -> None:
        """Forget the oldest finished jobs while more than ``max_jobs`` are kept or their signals and pages
        take more than ``max_kept_mb`` (``keep`` is never forgotten)."""
        with self._lock:
            self._expire()
            while True:
                finished = [
                    j for j in self._jobs.values() if j.status in ("done", "failed") and j is not keep
                ]
                total = sum(j.kept_bytes for j in self._jobs.values())
                if not finished or (len(self._jobs) <= self.max_jobs and total <= self.max_kept_bytes):
                    return
                del self._jobs[finished[0].id]

    def _expire(self) -> None:
        """Forget the jobs finished more than ``keep_hours`` ago (the caller holds the lock)."""
        cutoff = time.time() - self.keep_s
        for job_id in [i for i, j in self._jobs.items() if j.finished is not None and j.finished < cutoff]:
            del self._jobs[job_id]

    def cache_page(self, job: Job, start_s: float, png: bytes) -> None:
        """Keep a drawn viewer page (the last :data:`PAGE_CACHE` of the job)."""
        with self._lock:
            job.pages[start_s] = png
            job.pages.move_to_end(start_s)
            while len(job.pages) > PAGE_CACHE:
                job.pages.popitem(last=False)
