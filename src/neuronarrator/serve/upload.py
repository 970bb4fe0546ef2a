"""Receiving an upload: a ``multipart/form-data`` body streamed straight into a job's folder.

The body is parsed as it arrives (python-multipart's streaming :class:`MultipartParser`), so no upload is
ever held whole in memory -- nor spooled anywhere but the job's own folder. The checks, in the order they
can be made:

- the body must be ``multipart/form-data`` with a boundary (415 otherwise);
- a ``Content-Length`` over the limit (plus a little for the form's envelope) is refused before a byte is
  read (413);
- the file's name must end in an accepted suffix, checked as soon as its part's headers are in, before
  its data (415);
- the file's first bytes must be its format's signature (:data:`MAGIC`: ``0`` and seven spaces for EDF,
  ``\\xffBIOSEMI`` for BDF, the file-id tag for FIF), checked as soon as they are in (415): a text file or
  a program renamed ``.edf`` is refused by the request instead of failing its job later;
- the file's bytes are counted as they are written, and the upload stops at the first byte over the
  limit (413) whatever ``Content-Length`` said: an over-size file is never written whole;
- there must be exactly one file, with at least one byte, and the body must be complete (400).

The file's name is only ever used through :func:`~neuronarrator.serve.jobs.safe_filename` (its base name,
harmless characters): ``../../x.edf``, ``/etc/x.edf`` or a name with a NUL byte land as ``x.edf`` (or
``x_.edf``) in the job's own folder, never elsewhere. The bytes are hashed (SHA-256) as they are written;
the report document records the digest, so a client can check that the report is of the file it sent.

A refused upload's folder is removed at once (:meth:`~neuronarrator.serve.jobs.JobStore.discard`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import IO, Any

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from neuronarrator.serve.jobs import Job, JobStore, QueueFullError, safe_filename

__all__ = ["ENVELOPE_BYTES", "MAGIC", "SUFFIXES", "receive_upload"]

log = logging.getLogger(__name__)

#: Accepted file name endings: the formats that hold a whole recording in one file.
SUFFIXES = (".edf", ".bdf", ".fif")
#: Room for the form's boundaries, part headers and small fields on top of the file itself.
ENVELOPE_BYTES = 64 * 1024
_EDF_OR_BDF = (b"0       ", b"\xffBIOSEMI")  # the readers take either signature under either suffix
#: The signatures a file of each suffix may start with (what :mod:`neuronarrator.io` checks when reading).
MAGIC = {".edf": _EDF_OR_BDF, ".bdf": _EDF_OR_BDF, ".fif": (b"\x00\x00\x00\x64",)}  # FIFF_FILE_ID = 100
_MAGIC_BYTES = max(len(m) for ms in MAGIC.values() for m in ms)


class _Upload:
    """The parser's callbacks and what they have seen (one request)."""

    def __init__(self, store: JobStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.headers: dict[bytes, bytes] = {}
        self.name: list[bytes] = []
        self.value: list[bytes] = []
        self.in_file = False
        self.files = 0
        self.file_done = False
        self.other_bytes = 0
        self.written = 0
        self.head = b""  # the file's first bytes, until its signature is checked
        self.suffix = ""
        self.digest = hashlib.sha256()
        self.job: Job | None = None
        self.out: IO[bytes] | None = None
        self.ended = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_end": self.end}  # fmt: skip

    def part_begin(self) -> None:
        self.headers, self.in_file = {}, False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.name.append(data[start:end])

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value.append(data[start:end])

    def header_end(self) -> None:
        self.headers[b"".join(self.name).strip().lower()] = b"".join(self.value)
        self.name, self.value = [], []

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b"").decode("latin-1"))
        if b"filename" not in options:
            return  # a plain form field: counted, not kept
        self.files += 1
        if self.files > 1:
            raise HTTPException(400, "one recording per upload")
        raw = options[b"filename"].decode("utf-8", errors="replace")
        suffix = next((s for s in SUFFIXES if raw.lower().endswith(s)), None)
        if suffix is None:
            shown = Path(raw.replace("\\", "/")).suffix or "(no extension)"
            raise HTTPException(415, f"unsupported file type '{shown[:20]}'; upload one of "
                                     f"{', '.join(SUFFIXES)} (formats that hold a recording in one file)")  # fmt: skip
        self.suffix = suffix
        try:
            self.job = self.store.new_job(safe_filename(raw, suffix))
        except QueueFullError as error:
            raise HTTPException(503, str(error), headers={"Retry-After": "60"}) from None
        self.out = open(self.job.upload, "wb")  # closed by part_end or close()
        self.in_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            self.other_bytes += end - start
            if self.other_bytes > ENVELOPE_BYTES:
                raise HTTPException(413, "the form's other fields are too large")
            return
        self.written += end - start
        if self.written > self.max_bytes:
            raise HTTPException(413, f"the file is larger than this server's limit of "
                                     f"{self.max_bytes / 2**20:g} MB")  # fmt: skip
        assert self.out is not None
        if len(self.head) < _MAGIC_BYTES:
            self.head += data[start : start + _MAGIC_BYTES - len(self.head)]
            if len(self.head) >= _MAGIC_BYTES:
                self.check_signature()
        self.digest.update(data[start:end])
        self.out.write(data[start:end])

    def check_signature(self) -> None:
        """415 unless the file starts as its suffix says (once its first bytes, or all of them, are in)."""
        if self.head and not self.head.startswith(MAGIC[self.suffix]):
            assert self.job is not None
            raise HTTPException(415, f"{self.job.filename}: not a {self.suffix} recording (it starts with "
                                     f"{self.head[:8]!r}, not the format's signature)")  # fmt: skip

    def part_end(self) -> None:
        if self.in_file and self.out is not None:
            self.check_signature()  # a file shorter than the longest signature
            self.out.close()
            self.file_done = True
        self.in_file = False

    def end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()


async def receive_upload(request: Request, store: JobStore, max_bytes: int) -> Job:
    """Stream the request's file into a new job's folder (module docstring); the job, not yet submitted.

    Raises HTTPException 400, 413, 415 or 503; the job's folder is gone by then."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise HTTPException(415, "send the recording as multipart/form-data, in a form field named 'file'")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise HTTPException(400, "the Content-Length header is not a number") from None
        if declared > max_bytes + ENVELOPE_BYTES:
            raise HTTPException(413, f"the upload ({declared / 2**20:.1f} MB) is larger than this server's limit "
                                     f"of {max_bytes / 2**20:g} MB")  # fmt: skip
    upload = _Upload(store, max_bytes)
    try:
        parser = MultipartParser(options[b"boundary"], upload.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if upload.files == 0:
            raise HTTPException(400, "no file in the upload (send it in a form field named 'file')")
        if not upload.file_done or not upload.ended:
            raise HTTPException(400, "the upload is incomplete (the form ended early)")
        if upload.written == 0:
            assert upload.job is not None
            raise HTTPException(400, f"{upload.job.filename}: the file is empty (0 bytes)")
    except BaseException as error:  # a refused or broken upload leaves nothing behind
        upload.close()
        if upload.job is not None:
            store.discard(upload.job)
        if isinstance(error, MultipartParseError | FormParserError):
            raise HTTPException(400, f"the upload is not a well-formed multipart form ({error})") from None
        if isinstance(error, ClientDisconnect):
            log.info("a client went away during its upload")
        raise
    assert upload.job is not None
    upload.job.sha256, upload.job.size_bytes = upload.digest.hexdigest(), upload.written
    return upload.job
