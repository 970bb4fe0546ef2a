"""A check of a FIF file's tag chain before MNE opens it: a chain that loops would make MNE hang.

A FIF file is a chain of tags, each with a 16-byte header ``kind, type, size, next`` (big-endian int32):
``next`` is 0 for "the tag right after this one" (at ``pos + 16 + size``), -1 for "none", or the
absolute position of the next tag. When a file's tag directory is missing or unreadable, MNE
(``mne._fiff.open._fiff_open``, 1.13) walks that chain from byte 0 until it ends, without remembering
where it has been: a negative ``size`` or a ``next`` pointing back makes the walk loop forever
(found by ``fuzz/fuzz_readers.py``). This module walks the chain the same way, reading 16 bytes per tag,
and refuses a chain that comes back to a position it has visited. A valid chain visits each tag once,
so the walk takes at most ``file size / 16`` steps.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

from neuronarrator.io.errors import CorruptFileError

_TAG_HEADER_BYTES = 16


def check_fif_tag_chain(path: Path) -> None:
    """Raise :class:`CorruptFileError` when the FIF tag chain of ``path`` (``.fif`` or ``.fif.gz``) loops."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    visited: set[int] = set()
    pos: int | None = 0
    try:
        with opener(path, "rb") as f:
            while pos is not None:
                if pos in visited:
                    raise CorruptFileError(
                        path, f"not a valid FIF file: its tag chain loops back to byte {pos:,}"
                    )
                visited.add(pos)
                f.seek(pos)
                head = f.read(_TAG_HEADER_BYTES)
                if len(head) < _TAG_HEADER_BYTES:
                    return  # the chain runs off the end: MNE stops there too, and judges the rest
                _, _, size, next_ = struct.unpack(">iIii", head)
                pos = pos + _TAG_HEADER_BYTES + size if next_ == 0 else (next_ if next_ > 0 else None)
                if pos is not None and pos < 0:
                    raise CorruptFileError(path, f"not a valid FIF file: a tag points to byte {pos:,}")
    except (OSError, EOFError) as error:  # gzip: not gzipped, or cut short
        raise CorruptFileError(path, f"not a readable FIF file ({type(error).__name__}: {error})") from error
