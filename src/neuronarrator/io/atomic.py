"""Atomic output files: a reader never sees a half-written file, and nothing is overwritten unasked."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from neuronarrator.io.errors import OutputExistsError


@contextlib.contextmanager
def atomic_output(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` in one step.

    The temporary file lives in the same directory (``os.replace`` is atomic only within a file
    system) and keeps ``path``'s suffix, because some writers (numpy, MNE) choose the format by it.
    On any exception the temporary file is removed and ``path`` is untouched. A process killed outright
    (SIGKILL, power loss) cannot remove it: its name (``.NAME.<pid>-XXXX.partialSUFFIX``, hidden, never
    ``path``'s) keeps it from being taken for the output, and the next write of ``path`` removes it
    (:func:`remove_stale_partials`).

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``force`` is false.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=f".partial{path.suffix}",
                                    dir=path.parent)  # fmt: skip
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give it the mode a plain open() would (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_partials(path: str | Path) -> list[Path]:
    """Remove the temporary files of earlier writes of ``path`` whose writer process is gone (killed
    mid-write); a live writer's (another process writing ``path`` right now) are left alone. Returns the
    removed paths. The writer is identified by the pid in the name: on a file system shared between
    machines a pid says nothing, so there stale files are removed only by hand."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*-*.partial{glob.escape(path.suffix)}"):
        pid_text = tmp.name[len(path.name) + 2 :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed
