"""Where and how fast, as report text says it: sides, head regions, electrode names, frequencies.

Neurologists locate a finding three ways, often in one phrase: a side word ("left", "bilateral", "L"), a
region word ("temporal", "frontocentral", "bitemporal") and electrode names ("maximal at F8", "phase
reversal at T3"). This module finds those words as *tokens*, groups adjacent tokens into *phrases* ("left
temporal region, maximal at T3/F7") and reads a phrase as one location: a side from the vocabulary, a set
of regions, and the canonical 10-20 channels named.

Electrodes give a side by the 10-20 convention (odd numbers left, even right, ``z`` midline) and a region
by the lobe they overlie as clinicians name it: T3/T4/T5/T6 (T7/T8/P7/P8) are temporal, F7/F8 frontotemporal
(ACNS calls them anterior temporal; the letter says frontal, so both regions are given). A region word in
the same phrase overrides the electrode's region: "left temporal, maximal at F7" is temporal, not frontal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neuronarrator.io.channels import CANONICAL_19, OLD_TO_NEW

_REGION_PREFIX = {
    "front": "frontal",
    "centr": "central",
    "tempor": "temporal",
    "pariet": "parietal",
    "occipit": "occipital",
}


def _region_of(word: str) -> str:
    word = word.lower()
    return next(region for prefix, region in _REGION_PREFIX.items() if word.startswith(prefix))


#: Region(s) of each electrode (upper-case name; 10-20 plus the 10-10 names reports use).
ELECTRODE_REGIONS: dict[str, tuple[str, ...]] = {
    "FP1": ("frontal",), "FP2": ("frontal",), "FPZ": ("frontal",), "AF3": ("frontal",), "AF4": ("frontal",),
    "AF7": ("frontal",), "AF8": ("frontal",), "AFZ": ("frontal",), "F1": ("frontal",), "F2": ("frontal",),
    "F3": ("frontal",), "F4": ("frontal",), "F5": ("frontal",), "F6": ("frontal",), "FZ": ("frontal",),
    "F7": ("frontal", "temporal"), "F8": ("frontal", "temporal"), "F9": ("frontal", "temporal"),
    "F10": ("frontal", "temporal"), "FT7": ("frontal", "temporal"), "FT8": ("frontal", "temporal"),
    "FT9": ("frontal", "temporal"), "FT10": ("frontal", "temporal"),
    "FC1": ("frontal", "central"), "FC2": ("frontal", "central"), "FC3": ("frontal", "central"),
    "FC4": ("frontal", "central"), "FC5": ("frontal", "central"), "FC6": ("frontal", "central"),
    "FCZ": ("frontal", "central"),
    "C1": ("central",), "C2": ("central",), "C3": ("central",), "C4": ("central",), "C5": ("central",),
    "C6": ("central",), "CZ": ("central",),
    "T1": ("temporal",), "T2": ("temporal",), "T3": ("temporal",), "T4": ("temporal",), "T5": ("temporal",),
    "T6": ("temporal",), "T7": ("temporal",), "T8": ("temporal",), "T9": ("temporal",), "T10": ("temporal",),
    "P7": ("temporal",), "P8": ("temporal",), "TP7": ("temporal",), "TP8": ("temporal",),
    "TP9": ("temporal",), "TP10": ("temporal",), "SP1": ("temporal",), "SP2": ("temporal",),
    "CP1": ("central", "parietal"), "CP2": ("central", "parietal"), "CP3": ("central", "parietal"),
    "CP4": ("central", "parietal"), "CP5": ("central", "parietal"), "CP6": ("central", "parietal"),
    "CPZ": ("central", "parietal"),
    "P1": ("parietal",), "P2": ("parietal",), "P3": ("parietal",), "P4": ("parietal",), "P5": ("parietal",),
    "P6": ("parietal",), "PZ": ("parietal",), "P9": ("parietal",), "P10": ("parietal",),
    "PO3": ("parietal", "occipital"), "PO4": ("parietal", "occipital"), "PO7": ("parietal", "occipital"),
    "PO8": ("parietal", "occipital"), "POZ": ("parietal", "occipital"),
    "O1": ("occipital",), "O2": ("occipital",), "OZ": ("occipital",),
}  # fmt: skip

_CANONICAL_UPPER = {c.upper(): c for c in CANONICAL_19} | {o.upper(): n for o, n in OLD_TO_NEW.items()}

# Ear/mastoid references (A1/A2/M1/M2) are left out on purpose: in report text they name the reference of a
# montage far more often than where a finding is.
_ELECTRODE = re.compile(
    r"(?<![\w])(F[Pp][12zZ]|AF[3478zZ]|FT(?:7|8|9|10)|FC[1-6zZ]|F(?:[1-9]|10|[zZ])|C[1-6zZ]|"
    r"TP(?:7|8|9|10)|T(?:[1-9]|10)|CP[1-6zZ]|PO[3478zZ]|P(?:[1-9]|10|[zZ])|O[12zZ]|S[Pp][12])(?![\w])"
)
_SIDE = re.compile(
    r"\b(?P<left>left)\b|\b(?P<right>right)\b"
    r"|\b(?P<L>L)\b(?=\s*(?:[<>]|temporal|frontal|central|parietal|occipital|fronto|centro|temporo|parieto|"
    r"occipito|hemispher|side|sided|anterior|mid|posterior)|\s*[<>])"
    r"|\b(?P<R>R)\b(?=\s*(?:[<>]|temporal|frontal|central|parietal|occipital|fronto|centro|temporo|parieto|"
    r"occipito|hemispher|side|sided|anterior|mid|posterior))"
    r"|(?<=[<>])\s*(?P<Lafter>L)\b|(?<=[<>])\s*(?P<Rafter>R)\b"
    r"|\b(?P<sync>bilateral(?:ly)?\s+synchronous|bisynchronous)\b"
    r"|\b(?P<bilat>both(?=\s+(?:hemispheres|sides|temporal|frontal|central|parietal|occipital|anterior|posterior))|bilateral(?:ly)?(?:[- ]independent(?:ly)?)?|bi-?hemispheric|both hemispheres|multi-?focal|"
    r"independent(?:ly)?|shifting|alternating)\b"
    r"|\b(?P<midline>midline|vertex|parasagittal midline)\b"
    r"|\b(?P<gen>diffuse(?:ly)?|generali[sz]ed|global(?:ly)?|widespread)\b",
    re.I,
)
# "L"/"R" must be capitals: matched case-sensitively below by checking the group text.
_REGION = re.compile(
    r"\b(?P<bi>bi-?)?(?:(?P<first>fronto|centro|temporo|parieto|occipito)[- ]?)?"
    r"(?P<main>frontal(?:ly)?|frontopolar|central(?:ly)?|temporal(?!ly)|parietal(?:ly)?|occipital(?:ly)?)\b",
    re.I,
)
# Gap words allowed *between* tokens of one location phrase ("left temporal region, maximal at T3").
_PHRASE_GAP = re.compile(
    r"^(?:[\s,/&()\-]|\b(?:and|or|the|head|regions?|areas?|leads?|electrodes?|channels?|derivations?|"
    r"hemispheres?|hemispheric|quadrants?|maxim(?:al|ally|um)|max|predominant(?:ly)?|predominance|at|over|"
    r"in|with|phase|reversals?|greater|more|less|than|on|sides?|sided|anterior|mid|posterior|inferior|"
    r"superior|lateral|parasagittal|aspects?|involving|independently|but|spreading|to)\b|[<>])*$",
    re.I,
)

SIDE_ORDER = ("left", "right", "bilateral", "midline", "generalized")


@dataclass(frozen=True)
class Token:
    """One location word: its span (relative to the searched text) and what it says."""

    start: int
    end: int
    sides: frozenset[str] = frozenset()
    regions: tuple[str, ...] = ()
    electrode_regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    independent: bool = False


@dataclass(frozen=True)
class Location:
    """A location phrase read as side, regions and channels."""

    start: int
    end: int
    side: str | None
    regions: tuple[str, ...]
    channels: tuple[str, ...]
    independent: bool = False
    generalized_word: bool = False
    regions_stated: bool = False  # regions come from region words, not only from electrode names

    @property
    def lateral(self) -> bool:
        """True when the phrase names a side other than generalized, or a region/electrode."""
        return self.side in ("left", "right", "bilateral", "midline") or bool(self.regions)


def electrode_side(name: str) -> str:
    """Side of an electrode by the 10-20 convention: odd left, even right, ``z`` midline."""
    last = name[-1]
    if last in "zZ":
        return "midline"
    return "left" if int(re.sub(r"\D", "", name)) % 2 else "right"


def canonical_channel(name: str) -> str | None:
    """The CANONICAL_19 name of an electrode written in a report (T3 -> T7), or None if outside the 19."""
    return _CANONICAL_UPPER.get(name.upper())


def find_tokens(text: str, blocked: list[tuple[int, int]] = ()) -> list[Token]:
    """Location tokens in ``text``, skipping any that overlap a ``blocked`` span (a finding's own words)."""

    def free(s: int, e: int) -> bool:
        return not any(s < be and bs < e for bs, be in blocked)

    tokens: list[Token] = []
    for m in _SIDE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        kind = m.lastgroup
        word = m.group(0).strip()
        if kind in ("L", "R", "Lafter", "Rafter") and word not in ("L", "R"):
            continue  # lower-case "l"/"r" is not a side
        side = {
            "left": "left",
            "right": "right",
            "L": "left",
            "R": "right",
            "Lafter": "left",
            "Rafter": "right",
            "bilat": "bilateral",
            "midline": "midline",
            "gen": "generalized",
            "sync": "generalized",
        }[kind]  # fmt: skip  ("bilaterally synchronous" is the generalized form)
        independent = kind == "bilat" and bool(re.search(r"independ|multi|shifting|alternating", word, re.I))
        tokens.append(Token(m.start(), m.end(), sides=frozenset({side}), independent=independent))
    for m in _REGION.finditer(text):
        if not free(m.start(), m.end()) or _inside_word(text, m.start(), m.end()):
            continue
        regions = [_region_of(m.group("main"))]
        if m.group("first"):
            regions.insert(0, _region_of(m.group("first")))
        sides = frozenset({"bilateral"}) if m.group("bi") else frozenset()
        tokens.append(Token(m.start(), m.end(), sides=sides, regions=tuple(dict.fromkeys(regions))))
    for m in _ELECTRODE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        name = m.group(1)
        upper = name.upper()
        if upper not in ELECTRODE_REGIONS:
            continue
        channel = canonical_channel(upper)
        tokens.append(
            Token(m.start(), m.end(), sides=frozenset({electrode_side(upper)}),
                  electrode_regions=ELECTRODE_REGIONS[upper], channels=(channel,) if channel else ())
        )  # fmt: skip
    return sorted(tokens, key=lambda t: t.start)


def _inside_word(text: str, start: int, end: int) -> bool:
    # A region word glued to letters on either side is part of another word ("extratemporal" is fine to
    # miss; "temporalis" muscle is not a region).
    return (start > 0 and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha())


def group_phrases(text: str, tokens: list[Token], blocked: list[tuple[int, int]] = ()) -> list[Location]:
    """Adjacent tokens (separated only by gap words, and by no ``blocked`` span) become one phrase."""
    phrases: list[list[Token]] = []
    for tok in tokens:
        if (
            phrases
            and not _only_generalized(tok)
            and not _only_generalized(phrases[-1][-1])
            and _PHRASE_GAP.match(text[phrases[-1][-1].end : tok.start])
            and not any(phrases[-1][-1].end <= bs < tok.start for bs, _ in blocked)
        ):
            phrases[-1].append(tok)
        else:
            phrases.append([tok])
    return [read_phrase(p) for p in phrases]


def _only_generalized(tok: Token) -> bool:
    # "diffuse" stands alone: in "sharp waves at T3 and diffuse slowing" it must not join T3's phrase.
    return tok.sides == frozenset({"generalized"}) and not tok.regions


def read_phrase(tokens: list[Token]) -> Location:
    """Combine tokens into one location (left + right -> bilateral; region words beat electrode regions)."""
    sides: set[str] = set()
    for t in tokens:
        sides |= t.sides
    regions = [r for t in tokens for r in t.regions]
    stated = bool(regions)
    if not regions:
        regions = [r for t in tokens for r in t.electrode_regions]
    channels = [c for t in tokens for c in t.channels]
    return Location(
        start=tokens[0].start,
        end=tokens[-1].end,
        side=combine_sides(sides),
        regions=tuple(dict.fromkeys(regions)),
        channels=tuple(dict.fromkeys(channels)),
        independent=any(t.independent for t in tokens),
        generalized_word="generalized" in sides,
        regions_stated=stated,
    )


def combine_sides(sides: set[str] | frozenset[str]) -> str | None:
    """One side from several: left and right make bilateral; bilateral beats one side ("bilateral, more on the
    left" is bilateral); a lateral side beats midline and generalized."""
    if {"left", "right"} <= sides:
        return "bilateral"
    for side in ("bilateral", "left", "right", "midline", "generalized"):
        if side in sides:
            return side
    return None


def merge_locations(locations: list[Location]) -> Location | None:
    """Several phrases attached to one finding, read as one location (stated regions beat electrodes')."""
    if not locations:
        return None
    sides = {loc.side for loc in locations if loc.side}
    stated = any(loc.regions_stated for loc in locations)
    explicit = [r for loc in locations if loc.regions_stated or not stated for r in loc.regions]
    return Location(
        start=min(loc.start for loc in locations),
        end=max(loc.end for loc in locations),
        side=combine_sides(sides),
        regions=tuple(dict.fromkeys(explicit)),
        channels=tuple(dict.fromkeys(c for loc in locations for c in loc.channels)),
        independent=any(loc.independent for loc in locations),
        generalized_word=any(loc.generalized_word for loc in locations),
        regions_stated=stated,
    )


# --- frequency ------------------------------------------------------------------------------------------
_NUMBER = r"\d+(?:\.\d+)?|\d+\s+1/2"
_FREQUENCY = re.compile(
    rf"(?<![\w.])(?P<a>{_NUMBER})(?:\s*(?:-|–|to)\s*(?P<b>{_NUMBER}))?\s*-?\s*"
    r"(?:Hz|hertz|c/s|cps|cycles?\s+per\s+second|per\s+second|/s(?:ec)?)\b",
    re.I,
)


@dataclass(frozen=True)
class Frequency:
    """A frequency written in the text: its span and value in Hz (a range "8-9 Hz" is its midpoint)."""

    start: int
    end: int
    hz: float


def _number(s: str) -> float:
    if " 1/2" in s:
        return float(s.split()[0]) + 0.5
    return float(s)


def find_frequencies(text: str, blocked: list[tuple[int, int]] = ()) -> list[Frequency]:
    """Every frequency in ``text`` ("9.5 Hz", "9-10 Hz" -> 9.5, "8 to 9 Hz" -> 8.5), outside ``blocked``."""
    out = []
    for m in _FREQUENCY.finditer(text):
        if any(m.start() < be and bs < m.end() for bs, be in blocked):
            continue
        a = _number(m.group("a"))
        b = _number(m.group("b")) if m.group("b") else None
        hz = (a + b) / 2 if b is not None and b > a else a
        out.append(Frequency(m.start(), m.end(), hz))
    return out
