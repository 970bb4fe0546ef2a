"""Source adapters, registered by name (DESIGN.md, "Corpus").

Each adapter is a module exposing ``name``, ``list_items(root, **options)`` and ``load(item)`` (the
:class:`~neuronarrator.corpus.sources.base.Source` protocol). ``corpus build SOURCE...`` looks sources up
here with :func:`get_source`.
"""

from __future__ import annotations

from types import ModuleType

from neuronarrator.corpus.sources import bids, chbmit, edf, phantom, sleep_edf, tuh
from neuronarrator.corpus.sources.base import SEGMENT_S, SFREQ_HZ, SessionData, SessionItem, Source

#: Name -> adapter module (each satisfies :class:`Source`).
SOURCES: dict[str, ModuleType] = {
    module.name: module for module in (phantom, edf, sleep_edf, chbmit, tuh, bids)
}


class UnknownSourceError(KeyError):
    """A source name nobody registered."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def get_source(name: str) -> Source:
    """The adapter registered as ``name``.

    Raises
    ------
    UnknownSourceError
        Naming the known sources.
    """
    try:
        return SOURCES[name]  # type: ignore[return-value]
    except KeyError:
        raise UnknownSourceError(
            f"unknown source {name!r}; known sources: {', '.join(sorted(SOURCES))}"
        ) from None


__all__ = [
    "SEGMENT_S",
    "SFREQ_HZ",
    "SOURCES",
    "SessionData",
    "SessionItem",
    "Source",
    "UnknownSourceError",
    "get_source",
]
