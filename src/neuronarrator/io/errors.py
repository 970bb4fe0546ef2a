"""The exceptions a user sees.

Every problem with an input file is raised as a subclass of :class:`InputError`, which carries the
file's path and a one-line description of the problem (and, where there is one, how to fix it). The CLI
catches :class:`NeuroNarratorError` and prints ``str(error)`` as one line on stderr, then exits non-zero:
no traceback ever reaches a user for a problem with their data.
"""

from __future__ import annotations

from pathlib import Path


class NeuroNarratorError(Exception):
    """Base class of every error the project raises on purpose."""

    exit_code = 1


class InputError(NeuroNarratorError):
    """A problem with one input file; ``str()`` gives ``"<file>: <problem>"``."""

    exit_code = 2

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class FileMissingError(InputError):
    """The path does not exist or is not a regular file."""


class EmptyFileError(InputError):
    """The file has zero bytes."""


class UnsupportedFormatError(InputError):
    """No reader handles this file's extension."""


class CorruptFileError(InputError):
    """The file's bytes do not parse as the format its name claims."""


class TruncatedFileError(CorruptFileError):
    """The header is intact but the data stops before the header says it should."""


class HeaderMismatchError(CorruptFileError):
    """The header contradicts itself or the file (e.g. record count versus file size)."""


class NoEEGChannelsError(InputError):
    """None of the file's channels is an EEG channel that maps to the 10-20 system."""


class SamplingRateError(InputError):
    """The EEG channels' sampling rate is too low (or unusable) for the harmonized contract."""


class NonFiniteSignalError(InputError):
    """A channel holds no finite samples (all NaN or infinite)."""


class FlatSignalError(InputError):
    """Every EEG channel is flat: there is no signal to analyse."""


class RecordingTooShortError(InputError):
    """The recording is shorter than the analysis needs."""


class OutputExistsError(NeuroNarratorError):
    """An output file exists already and ``--force`` was not given."""

    exit_code = 3

    def __init__(self, path: str | Path):
        self.path = Path(path)
        super().__init__(f"{self.path}: exists already; pass --force to overwrite it")


class CorpusError(NeuroNarratorError):
    """A corpus directory that cannot be built into, read or trusted (``str()`` names the directory)."""

    exit_code = 4
