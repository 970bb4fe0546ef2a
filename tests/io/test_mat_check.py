"""io.mat_check: the MAT-file walk that runs before scipy parses an EEGLAB ``.set``.

The damaged files are small byte strings built here (a MAT v5 header, then tagged elements); the
fuzzer's reproducers (a 3 GB element declared inside a 180 kB file, a file that crashed scipy's compiled
reader) are rerun in ``test_fuzz.py``.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from neuronarrator.io.errors import (
    CorruptFileError,
    HeaderMismatchError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from neuronarrator.io.mat_check import check_mat_file
from neuronarrator.io.read import read_recording

STANDARD_19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz",
               "P4", "P8", "O1", "O2"]  # fmt: skip


def header(version: int = 0x0100) -> bytes:
    return b"MATLAB 5.0 MAT-file, test".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", version) + b"IM"


def element(mdtype: int, data: bytes, nbytes: int | None = None) -> bytes:
    """A tagged element; ``nbytes`` overrides the size the tag declares (the lie under test)."""
    n = len(data) if nbytes is None else nbytes
    return struct.pack("<II", mdtype, n) + data + b"\0" * (-len(data) % 8)


def matrix(
    mclass: int, dims: tuple[int, ...], name: bytes, *children: bytes, nbytes: int | None = None
) -> bytes:
    body = element(6, struct.pack("<II", mclass, 0)) + element(5, struct.pack(f"<{len(dims)}i", *dims))
    body += element(1, name) + b"".join(children)
    return element(14, body, nbytes)


def double(
    name: bytes,
    values: list[float],
    *,
    dims: tuple[int, ...] | None = None,
    real_nbytes: int | None = None,
    nbytes: int | None = None,
) -> bytes:
    data = struct.pack(f"<{len(values)}d", *values)
    return matrix(6, dims or (1, len(values)), name, element(9, data, real_nbytes), nbytes=nbytes)


def check_bytes(tmp_path: Path, data: bytes) -> list:
    path = tmp_path / "damaged.set"
    path.write_bytes(data)
    return check_mat_file(path)


def test_valid_crafted_file_lists_its_variables(tmp_path: Path) -> None:
    variables = check_bytes(
        tmp_path, header() + double(b"srate", [200.0]) + double(b"data", [1.0] * 6, dims=(2, 3))
    )
    assert [(v.name, v.mclass, v.dims) for v in variables] == [("srate", 6, (1, 1)), ("data", 6, (2, 3))]


def test_eeglab_file_passes_and_opens(write_eeg_file: Callable[..., Path]) -> None:
    path = write_eeg_file("eeglab", STANDARD_19, 200.0, 4.0)
    data = next(v for v in check_mat_file(path) if v.name == "data")
    assert data.dims == (19, 800)
    assert read_recording(path).n_times == 800


def test_scipy_written_file_with_every_kind_of_array_passes(tmp_path: Path) -> None:
    """Structs, cells, strings, sparse, complex, logical, integers, empty and nested arrays, compressed."""
    import scipy.sparse

    chanlocs = np.zeros((1, 3), dtype=[("labels", object), ("X", object)])
    for i in range(3):
        chanlocs[0, i] = (f"C{i}", float(i))
    content = {
        "data": np.ones((4, 50), dtype=np.float32), "chanlocs": chanlocs, "empty": np.zeros((0, 0)),
        "cell": np.array([[1, "a", np.zeros(3)], [np.eye(2), {"a": 1}, []]], dtype=object),
        "cplx": np.array([1 + 2j, 3j]), "sparse": scipy.sparse.csc_matrix(np.eye(5)), "flag": np.array([True]),
        "i8": np.arange(5, dtype=np.int8), "nd": np.zeros((2, 3, 4)), "text": "héllo €",
        "nested": {"a": {"b": {"c": np.arange(3)}}}, "zeros": np.zeros((1000, 1000)),
    }  # fmt: skip
    for compressed in (False, True):
        path = tmp_path / f"all_{compressed}.mat"
        scipy.io.savemat(path, content, do_compression=compressed)
        names = [v.name for v in check_mat_file(path)]
        assert names == list(content)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        # seed 0, byte case 3583: the data array's real part declares 3 GB (scipy allocated it: MemoryError)
        (header() + double(b"data", [1.0, 2.0], real_nbytes=3_082_917_152), "declares 3,082,917,152 bytes"),
        # seed 3, byte case 2505 (scipy's reader died of SIGBUS): elements shifted by an inserted byte
        (
            header() + double(b"x", [1.0]) + b"\x00" + double(b"y", [2.0]),
            "unknown element type|not a variable",
        ),
        (header() + double(b"data", [1.0]) + element(5, b"\1\0\0\0"), "type 5, not a variable"),
        (
            header() + double(b"data", [1.0], nbytes=1 << 31),
            "declares 2,147,483,648 bytes; the file has 64 left",
        ),
        (header() + double(b"data", [1.0] * 2, dims=(1, 3)), r"declares \(1, 3\) elements but stores 2"),
        (header() + double(b"data", [1.0], dims=(1, -1)), "negative dimensions"),
        (
            header() + matrix(1, (100_000, 100_000), b"cells"),
            r"declares \(100000, 100000\) elements but holds 0",
        ),
        (header() + matrix(2, (50_000, 50_000), b"s", element(5, b"\0" * 4), element(1, b"")), "elements in"),
        (
            header() + matrix(6, (1, 1), b"d", element(9, b"\0" * 8), element(99, b"\0" * 8)),
            "unknown element",
        ),
        (header() + matrix(6, (1, 1), b"d", element(9, b"\0" * 5)), "not whole items"),
        (header() + element(14, element(5, b"\1\0\0\0\1\0\0\0")), "does not start with its flags"),
        (header() + double(b"data", [1.0])[:-4], "declares 64 bytes; the file has 60 left"),
        (header() + double(b"data", [1.0]) + b"\0\0\0", "3 stray bytes"),
        (header(0x0300) + double(b"data", [1.0]), "unknown MAT-file version"),
        (b"\0\0\0\0" + b"\1" * 200, "MAT v4 file"),
        (header()[:100], "too short for a MAT-file header"),
        (b"MATLAB".ljust(128, b" "), "no byte-order mark"),
    ],
)
def test_damaged_structure_is_refused(tmp_path: Path, data: bytes, match: str) -> None:
    with pytest.raises(CorruptFileError, match=match) as caught:
        check_bytes(tmp_path, data)
    assert str(caught.value).startswith(f"{tmp_path / 'damaged.set'}: not a valid MAT-file")


def test_arrays_nested_too_deep_are_refused(tmp_path: Path) -> None:
    inner = double(b"", [1.0])
    for _ in range(40):  # a 1x1 cell holding a 1x1 cell ...
        inner = matrix(1, (1, 1), b"", inner)
    with pytest.raises(CorruptFileError, match="nest more than 32 deep"):
        check_bytes(tmp_path, header() + inner)


def compressed(inner: bytes) -> bytes:
    """A top-level compressed element: not padded (scipy seeks to exactly its end)."""
    body = zlib.compress(inner)
    return struct.pack("<II", 15, len(body)) + body


def test_compressed_array_is_walked_inside(tmp_path: Path) -> None:
    good = header() + compressed(double(b"data", [1.0] * 6, dims=(2, 3)))
    assert [v.dims for v in check_bytes(tmp_path, good)] == [(2, 3)]
    bad = header() + compressed(double(b"data", [1.0, 2.0], real_nbytes=2_000_000_000))
    with pytest.raises(CorruptFileError, match="declares 2,000,000,000 bytes"):
        check_bytes(tmp_path, bad)


def test_compressed_array_declaring_more_than_the_limit_is_refused_before_decompressing(
    tmp_path: Path,
) -> None:
    data = header() + compressed(struct.pack("<II", 14, 3_000_000_000) + b"\0" * 64)
    with pytest.raises(CorruptFileError, match="declares 3,000,000,000 bytes"):
        check_bytes(tmp_path, data)


def test_compression_bomb_is_refused_after_the_limit(tmp_path: Path) -> None:
    """80 MB of zeros in ~80 kB: refused from the declared size, before decompressing."""
    n = 80 * 2**20
    head = matrix(6, (1, n), b"data")[8:]  # flags, dims, name; then the real part (miUINT8) of zeros
    inner = struct.pack("<II", 14, len(head) + 8 + n) + head + struct.pack("<II", 2, n)
    packer = zlib.compressobj()
    zeros = bytes(2**20)
    body = packer.compress(inner) + b"".join(packer.compress(zeros) for _ in range(n // len(zeros)))
    body += packer.flush()
    data = header() + struct.pack("<II", 15, len(body)) + body
    assert len(data) < 200_000
    with pytest.raises(
        CorruptFileError, match="declares 83,886,136 bytes in .* compressed bytes .limit 67,108,864"
    ):
        check_bytes(tmp_path, data)


def test_damaged_or_cut_compressed_stream_is_refused(tmp_path: Path) -> None:
    body = zlib.compress(double(b"data", [1.0] * 100))
    with pytest.raises(CorruptFileError, match="compressed element at byte 128 ends after"):
        check_bytes(tmp_path, header() + struct.pack("<II", 15, len(body) // 2) + body[: len(body) // 2])
    with pytest.raises(CorruptFileError, match="is damaged"):
        check_bytes(
            tmp_path, header() + struct.pack("<II", 15, len(body)) + body[:2] + b"\xff" * (len(body) - 2)
        )


@pytest.mark.skipif(importlib.util.find_spec("pymatreader") is not None, reason="pymatreader reads v7.3")
def test_mat_73_without_pymatreader_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "hdf5.set"
    path.write_bytes(header(0x0200) + b"\0" * 512)
    with pytest.raises(UnsupportedFormatError, match="MAT v7.3 .HDF5. EEGLAB file.*pymatreader"):
        read_recording(path)


def test_reader_refuses_the_damaged_set_before_scipy(
    tmp_path: Path, write_eeg_file: Callable[..., Path]
) -> None:
    path = write_eeg_file("eeglab", STANDARD_19, 200.0, 4.0)
    data = bytearray(path.read_bytes())
    tag_at = data.index(b"data") + 4  # the data array's name is a small element; its real part follows
    assert struct.unpack("<I", data[tag_at : tag_at + 4])[0] == 7  # miSINGLE
    data[tag_at + 4 : tag_at + 8] = struct.pack("<I", 3_082_917_152)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"\.set: not a valid MAT-file .*declares 3,082,917,152 bytes"):
        read_recording(path)


def _set_with_fdt(tmp_path: Path, write_eeg_file: Callable[..., Path]) -> tuple[Path, Path, np.ndarray]:
    """The eeglabio .set re-saved with its samples in a separate ``.fdt`` (as EEGLAB saves large ones)."""
    embedded = write_eeg_file("eeglab", STANDARD_19, 200.0, 4.0, name="embedded")
    content = {k: v for k, v in scipy.io.loadmat(embedded).items() if not k.startswith("__")}
    samples = np.asarray(content["data"], dtype="<f4")
    path, fdt = tmp_path / "split.set", tmp_path / "split.fdt"
    content["data"] = "split.fdt"
    scipy.io.savemat(path, content)
    fdt.write_bytes(samples.T.tobytes())  # channel values of one time point after the other
    return path, fdt, samples


def test_fdt_size_is_checked_against_the_header(tmp_path: Path, write_eeg_file: Callable[..., Path]) -> None:
    path, fdt, samples = _set_with_fdt(tmp_path, write_eeg_file)
    recording = read_recording(path)
    assert recording.n_times == 800
    np.testing.assert_allclose(recording.get_data_uv(STANDARD_19[:2], 0, 1), samples[:2, :200], rtol=1e-5)
    full = fdt.read_bytes()
    fdt.write_bytes(full[:-4])
    with pytest.raises(
        TruncatedFileError, match=r"'split\.fdt' holds 60,796 bytes; 19 channels x 800 samples"
    ):
        read_recording(path)
    fdt.write_bytes(full + b"\0" * 76)
    with pytest.raises(HeaderMismatchError, match="holds 60,876 bytes"):
        read_recording(path)
    assert read_recording(path, strict=False).n_times == 800


def test_embedded_data_of_another_shape_than_the_header_is_refused(
    tmp_path: Path, write_eeg_file: Callable[..., Path]
) -> None:
    embedded = write_eeg_file("eeglab", STANDARD_19, 200.0, 4.0, name="embedded")
    content = {k: v for k, v in scipy.io.loadmat(embedded).items() if not k.startswith("__")}
    content["pnts"] = 900.0
    path = tmp_path / "pnts.set"
    scipy.io.savemat(path, content)
    with pytest.raises(
        HeaderMismatchError, match="its data array is 19 x 800 but the header says 19 channels x 900"
    ):
        read_recording(path)


def test_memory_error_of_a_parser_is_a_corrupt_file(
    tmp_path: Path, write_eeg_file: Callable[..., Path]
) -> None:
    """A MemoryError escaped the lazy sample read (scipy re-parses an embedded-data .set there)."""
    from neuronarrator.io.read import _open_with_mne

    path = write_eeg_file("eeglab", STANDARD_19, 200.0, 4.0)

    def allocating_reader(path: Path, **kwargs: object) -> None:
        raise MemoryError()

    with pytest.raises(CorruptFileError, match="ran out of memory on sizes the file declares"):
        _open_with_mne(path, "eeglab", allocating_reader)

    recording = read_recording(path)

    def get_data(**kwargs: object) -> None:
        raise MemoryError()

    recording.raw.get_data = get_data
    with pytest.raises(
        CorruptFileError, match="its samples could not be read: the MAT reader ran out of memory"
    ):
        recording.get_data_uv(STANDARD_19[:2])
    recording.raw.get_data = lambda **kwargs: {}["data"]  # any scipy error (here KeyError) of the re-parse
    with pytest.raises(CorruptFileError, match="its samples could not be read .KeyError"):
        recording.get_data_uv(STANDARD_19[:2])
