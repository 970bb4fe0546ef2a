"""Reading a report's text from a file, with the same one-line errors as the EEG readers."""

from __future__ import annotations

from pathlib import Path

from neuronarrator.io.errors import CorruptFileError, EmptyFileError, FileMissingError, InputError

#: A report is a few kB; anything past this is not a report (and would be slow to label).
MAX_REPORT_BYTES = 1_000_000


def read_report_text(path: str | Path) -> str:
    """The text of a report file (UTF-8, or Latin-1 as older clinical exports are).

    Raises
    ------
    FileMissingError, EmptyFileError, CorruptFileError, InputError
    """
    path = Path(path)
    if not path.is_file():
        raise FileMissingError(path, "no such file" if not path.exists() else "not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    if size > MAX_REPORT_BYTES:
        raise InputError(path, f"{size:,} bytes is too large for a report text (limit {MAX_REPORT_BYTES:,})")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise CorruptFileError(path, "binary content, not a report text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # every byte decodes: old exports are Latin-1
    if not text.strip():
        raise EmptyFileError(path, "the file holds only whitespace")
    return text
