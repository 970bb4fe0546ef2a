"""A structural check of an EEGLAB ``.set`` (a MATLAB MAT-file) before scipy parses it.

MNE reads ``.set`` files with ``scipy.io.loadmat`` (``pymatreader`` when installed). A MAT v5 file is a
128-byte header followed by *data elements*, each an 8-byte tag ``(type, nbytes)`` and ``nbytes`` of data
padded to 8 bytes (a *small* element packs type, nbytes <= 4 and the data into the 8 bytes); an array
(``miMATRIX``) holds a sequence of such elements (array flags, dimensions, name, then the data or the
nested arrays of a cell or struct), and an ``miCOMPRESSED`` element holds one zlib-compressed array.
scipy trusts the declared sizes: it allocates ``nbytes`` before reading an element's data (a flipped
bit in a tag becomes a 3 GB allocation and a ``MemoryError``, or a machine-sized one without a memory
cap), allocates the object array of a cell or struct from its declared dimensions, and reads nested
elements past the end of their parent. Its compiled reader also crashed the process (SIGBUS) on one
mutated file (both found by ``fuzz/fuzz_readers.py``). No library validates a MAT file's structure
without parsing it into memory this way, so this module walks it by hand, reading only tags and the
few bytes of flags and dimensions (the data is skipped, by seeking in the file, by decompressing in
bounded chunks inside a compressed element), and refuses a file unless:

- the header says MAT v5 (v4 files cannot hold an EEGLAB dataset; v7.3, HDF5, files are refused when
  ``pymatreader`` is not installed, as MNE could not read them either, and left to it otherwise);
- every element has a known type, a whole number of items, and fits inside its parent (the file for a
  top-level element, the array that holds it, the decompressed stream), and an array's elements fill
  it exactly, so that scipy's sequential reading sees the same elements as this walk;
- arrays nest at most :data:`MAX_DEPTH` deep, have valid flags and non-negative dimensions that
  declare no more elements than the array's bytes (cells and structs: no more than its nested
  arrays; numeric arrays: exactly the items stored);
- a compressed array declares at most :data:`MAX_INFLATE_RATIO` times the compressed size (at least
  64 MiB, at most 4 GiB, the limit of a v5 element), which EEG data does not approach; as the walk never
  reads past what the array declares, no more than that is ever decompressed.

A valid file costs a pass over its tags (seeks) plus, for compressed elements, one decompression
without keeping the output (about 0.3 s per 100 MB of decompressed data).
"""

from __future__ import annotations

import importlib.util
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from neuronarrator.io.errors import CorruptFileError, UnsupportedFormatError

MAT_HEADER_BYTES = 128
#: Arrays nested deeper are refused (EEGLAB's deepest, ``EEG.etc`` or ``chaninfo`` fields, nest ~5).
MAX_DEPTH = 32
#: A compressed element may decompress to this many times its size (EEG data compresses 1-10x).
MAX_INFLATE_RATIO = 100
#: ... but always to 64 MiB, and never beyond 4 GiB (a v5 element's size is a uint32).
MIN_INFLATE_LIMIT = 64 * 2**20
MAX_INFLATE_LIMIT = 2**32
_CHUNK = 2**20

MI_MATRIX = 14
MI_COMPRESSED = 15
#: Element types (MAT-file format, table 1-1) and the bytes of one item.
_ITEM_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_MI_INT8, _MI_INT32, _MI_UINT32 = 1, 5, 6
#: Array classes: cell 1, struct 2, object 3, char 4, sparse 5, numeric 6-15, function 16, opaque 17.
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE, _OPAQUE = 1, 2, 3, 4, 5, 17
_NUMERIC = range(6, 16)
_CLASSES = range(1, 18)


class _Bad(Exception):
    """A structural problem; becomes a :class:`CorruptFileError` naming the file."""


@dataclass(frozen=True)
class MatVariable:
    """One top-level variable: its name, array class (6 double, 7 single, 2 struct ...) and dimensions."""

    name: str
    mclass: int
    dims: tuple[int, ...]


class _FileStream:
    """The uncompressed file: ``skip`` seeks (the caller has checked the bytes are there)."""

    def __init__(self, f: BinaryIO, size: int):
        self._f, self.size, self.pos = f, size, 0

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise _Bad(f"the file ends at byte {self.pos + len(data):,}, inside an element")
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        self._f.seek(n, 1)
        self.pos += n


class _InflateStream:
    """The decompressed bytes of one ``miCOMPRESSED`` element, produced in bounded chunks, never kept.

    The walk consumes at most the size the compressed array declares, which is checked against the
    decompression limit first: no more than that is ever decompressed.
    """

    def __init__(self, f: BinaryIO, compressed_bytes: int, at: int):
        self._f, self._left, self._at = f, compressed_bytes, at
        self._inflater = zlib.decompressobj()
        self._buffer = bytearray()
        self._offset = 0  # of the first unconsumed byte in the buffer
        self.pos = 0  # decompressed bytes consumed

    def _available(self) -> int:
        return len(self._buffer) - self._offset

    def _more(self, want: int) -> None:
        """Decompress until ``want`` bytes are available (at most one chunk more), or the stream ends."""
        while self._available() < want and not self._inflater.eof:
            data = self._inflater.unconsumed_tail
            if not data:
                if self._left <= 0:
                    return
                data = self._f.read(min(self._left, _CHUNK))
                if not data:
                    self._left = 0
                    return
                self._left -= len(data)
            try:
                self._buffer += self._inflater.decompress(data, _CHUNK)
            except zlib.error as error:
                raise _Bad(f"the compressed element at byte {self._at:,} is damaged ({error})") from error

    def _consume(self, n: int) -> bytes:
        self._more(n)
        if self._available() < n:
            raise _Bad(
                f"the compressed element at byte {self._at:,} ends after "
                f"{self.pos + self._available():,} decompressed bytes, inside an element"
            )
        data = bytes(self._buffer[self._offset : self._offset + n]) if n <= 1024 else b""
        self._offset += n
        self.pos += n
        if self._offset >= _CHUNK:
            del self._buffer[: self._offset]
            self._offset = 0
        return data

    def read(self, n: int) -> bytes:
        if n > 1024:
            raise ValueError("reads are for tags, flags and dimensions only")
        return self._consume(n)

    def skip(self, n: int) -> None:
        while n > 0:
            step = min(n, _CHUNK)
            self._consume(step)
            n -= step


_Stream = _FileStream | _InflateStream


def _tag(stream: _Stream, fmt: str) -> tuple[int, int, bytes | None]:
    """``(type, nbytes, small data or None)``; a small element's 4 data bytes are read with its tag."""
    head = stream.read(8)
    first, second = struct.unpack(fmt + "II", head)
    if first >> 16:  # small data element: nbytes in the upper half of the first word
        return first & 0xFFFF, first >> 16, head[4:]
    return first, second, None


def _check_items(mdtype: int, nbytes: int, at: int) -> None:
    if mdtype not in _ITEM_BYTES:
        raise _Bad(f"unknown element type {mdtype} at byte {at:,}")
    if nbytes % _ITEM_BYTES[mdtype]:
        raise _Bad(f"an element of type {mdtype} at byte {at:,} holds {nbytes} bytes, not whole items")


def _array(stream: _Stream, nbytes: int, fmt: str, depth: int, at: int) -> tuple[int, tuple[int, ...], str]:
    """Walk an array's ``nbytes`` of elements; return its class, dimensions and name."""
    if depth > MAX_DEPTH:
        raise _Bad(f"arrays nest more than {MAX_DEPTH} deep (at byte {at:,})")
    if nbytes == 0:  # scipy reads an empty miMATRIX as an empty array
        return 0, (0, 0), ""
    end = stream.pos + nbytes
    mclass, dims, name = 0, (), ""
    n_items = 0  # items of the numeric data element
    n_arrays = 0  # nested arrays (cell elements, struct field values)
    index = 0
    while stream.pos < end:
        pos = stream.pos
        if end - pos < 8:
            raise _Bad(f"the array at byte {at:,} ends with {end - pos} bytes that are no element")
        mdtype, count, small = _tag(stream, fmt)
        if small is not None:
            if count > 4:
                raise _Bad(f"a small element at byte {pos:,} declares {count} bytes (at most 4)")
            _check_items(mdtype, count, pos)
            data = small[:count]
        elif mdtype == MI_MATRIX:
            if count > end - stream.pos:
                raise _Bad(
                    f"an array at byte {pos:,} declares {count:,} bytes; its parent has {end - stream.pos:,} left"
                )
            _array(stream, count, fmt, depth + 1, pos)
            n_arrays += 1
            index += 1
            continue
        else:
            _check_items(mdtype, count, pos)
            padded = count + (-count % 8)
            if padded > end - stream.pos:
                raise _Bad(
                    f"an element at byte {pos:,} declares {count:,} bytes; its array has {end - stream.pos:,} left"
                )
            if index < 3 and padded <= 1024:  # flags, dimensions and name: read them
                data = stream.read(padded)[:count]
            else:
                data = b""
                stream.skip(padded)
        if index == 0:
            if mdtype != _MI_UINT32 or len(data) != 8:
                raise _Bad(f"the array at byte {at:,} does not start with its flags")
            mclass = struct.unpack(fmt + "I", data[:4])[0] & 0xFF
            if mclass not in _CLASSES:
                raise _Bad(f"the array at byte {at:,} has an unknown class {mclass}")
        elif index == 1 and mclass != _OPAQUE:
            if mdtype != _MI_INT32 or not 2 <= len(data) // 4 <= 32:
                raise _Bad(f"the array at byte {at:,} has no valid dimensions")
            dims = struct.unpack(f"{fmt}{len(data) // 4}i", data)
            if min(dims) < 0:
                raise _Bad(f"the array at byte {at:,} has negative dimensions {dims}")
        elif index == 2 and mclass != _OPAQUE:
            name = (data or b"").decode("latin-1") if mdtype == _MI_INT8 else ""
        elif index == 3 and mclass in _NUMERIC:
            n_items = count // _ITEM_BYTES[mdtype]
        index += 1
    if index < 2 and mclass != _OPAQUE:
        raise _Bad(f"the array at byte {at:,} has no dimensions")
    n_elements = math.prod(dims) if dims else 0
    if mclass in _NUMERIC and n_items != n_elements:
        raise _Bad(f"the array at byte {at:,} declares {dims} elements but stores {n_items:,}")
    if mclass == _CELL and n_elements != n_arrays:
        raise _Bad(f"the cell array at byte {at:,} declares {dims} elements but holds {n_arrays:,}")
    if mclass in (_STRUCT, _OBJECT) and n_arrays and n_elements > n_arrays:
        raise _Bad(f"the struct array at byte {at:,} declares {dims} elements but holds {n_arrays:,} values")
    if mclass not in (_SPARSE, _OPAQUE) and n_elements > nbytes:
        raise _Bad(f"the array at byte {at:,} declares {dims} elements in {nbytes:,} bytes")
    return mclass, tuple(dims), name


def _header(path: Path, head: bytes) -> str:
    """The struct byte order of a MAT v5 file, after refusing the other versions."""
    if 0 in head[:4]:  # scipy takes this for a MAT v4 file
        raise _Bad("a MAT v4 file, or not a MAT-file at all (EEGLAB saves MAT v5 or v7.3)")
    if len(head) < MAT_HEADER_BYTES:
        raise _Bad(f"{len(head)} bytes, too short for a MAT-file header ({MAT_HEADER_BYTES})")
    endian = head[126:128]
    if endian not in (b"IM", b"MI"):
        raise _Bad("no byte-order mark (IM or MI) at the end of its 128-byte header")
    fmt = "<" if endian == b"IM" else ">"
    version = struct.unpack(fmt + "H", head[124:126])[0]
    if version == 0x0200:
        if importlib.util.find_spec("pymatreader") is None:
            raise UnsupportedFormatError(
                path,
                "a MAT v7.3 (HDF5) EEGLAB file; reading it needs the pymatreader package "
                "(pip install pymatreader), or re-save it from EEGLAB in MAT v7 format",
            )
        return ""  # left to pymatreader/h5py
    if version != 0x0100:
        raise _Bad(f"unknown MAT-file version 0x{version:04x}")
    return fmt


def check_mat_file(path: Path) -> list[MatVariable]:
    """Walk the MAT-file ``path``; raise :class:`CorruptFileError` on a structure scipy must not parse.

    Returns the top-level variables (empty for a MAT v7.3 file left to pymatreader). Raises
    :class:`UnsupportedFormatError` for a MAT v7.3 file when pymatreader is not installed.
    """
    size = path.stat().st_size
    variables: list[MatVariable] = []
    try:
        with open(path, "rb") as f:
            fmt = _header(path, f.read(MAT_HEADER_BYTES))
            if not fmt:
                return variables
            stream = _FileStream(f, size)
            stream.pos = MAT_HEADER_BYTES
            while stream.pos < size:
                pos = stream.pos
                if size - pos < 8:
                    raise _Bad(f"{size - pos} stray bytes at the end of the file")
                mdtype, count, small = _tag(stream, fmt)
                if small is not None or mdtype not in (MI_MATRIX, MI_COMPRESSED):
                    raise _Bad(f"byte {pos:,} holds an element of type {mdtype}, not a variable")
                if count > size - stream.pos:
                    raise _Bad(
                        f"the variable at byte {pos:,} declares {count:,} bytes; the file has "
                        f"{size - stream.pos:,} left"
                    )
                if mdtype == MI_MATRIX:
                    mclass, dims, name = _array(stream, count, fmt, 1, pos)
                else:
                    limit = min(MAX_INFLATE_LIMIT, max(MIN_INFLATE_LIMIT, MAX_INFLATE_RATIO * count))
                    inflated = _InflateStream(f, count, pos)
                    inner_type, inner_count, inner_small = _tag(inflated, fmt)
                    if inner_small is not None or inner_type != MI_MATRIX:
                        raise _Bad(f"the compressed element at byte {pos:,} holds no array")
                    if inner_count > limit - 8:
                        raise _Bad(
                            f"the compressed array at byte {pos:,} declares {inner_count:,} bytes "
                            f"in {count:,} compressed bytes (limit {limit:,}: an implausible ratio for EEG)"
                        )
                    mclass, dims, name = _array(inflated, inner_count, fmt, 1, pos)
                    f.seek(pos + 8 + count)
                    stream.pos = pos + 8 + count
                variables.append(MatVariable(name, mclass, dims))
    except _Bad as error:
        raise CorruptFileError(path, f"not a valid MAT-file (EEGLAB .set): {error}") from error
    except OSError as error:
        raise CorruptFileError(path, f"could not read it ({type(error).__name__}: {error})") from error
    return variables
