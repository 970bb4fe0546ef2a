"""How one finding is worded: template filling, location, frequency and prevalence slots, noun phrases.

:class:`Wording` holds one report's random choices (tense, electrode nomenclature, level of detail) and
turns a :class:`~neuronarrator.clinical.findings.Finding` into the slot values the templates of
:mod:`neuronarrator.clinical.phrases` need: where it is ("left temporal", "over the left temporal region
(T3)", "phase reversing at T7"), how fast ("at 1.5 Hz", "theta"), how often ("frequent", from the number
of evidence spans), and a noun phrase with its hedge ("possible left temporal sharp waves").
:mod:`neuronarrator.clinical.render` builds the report's sentences on it.
"""

from __future__ import annotations

import logging
import re
import string
from functools import cache
from typing import Any

import numpy as np

from neuronarrator.clinical import phrases as P
from neuronarrator.clinical.findings import GENERALIZED_CODES, REGIONS, Finding

log = logging.getLogger(__name__)

#: Adverbs of a generalized pattern's predominance ("frontally predominant GRDA").
REGION_ADVERBS = {"frontal": "frontally", "central": "centrally", "temporal": "temporally",
                  "parietal": "parietally", "occipital": "occipitally"}  # fmt: skip
#: Findings of an area (slowing, lower amplitude): placed by side and region words, never by an electrode alone.
AREA_CODES = frozenset({"focal_slowing", "asymmetry"})
#: Slots that place a finding; a lateralized finding is only written with a template that has one.
PLACE_SLOTS = frozenset({"loc", "where", "el", "el_where", "onset", "predom"})
#: Prevalence words by number of evidence spans, per family (ACNS: rare/occasional/frequent/abundant).
PREVALENCE = {
    "discharge": ((1, ("rare", "occasional")), (3, ("occasional",)), (9, ("frequent",)), (10**9, ("abundant", "frequent"))),
    "activity": ((1, ("occasional",)), (5, ("intermittent",)), (10**9, ("frequent", "intermittent"))),
}  # fmt: skip
#: Which prevalence words a code takes.
FAMILY = {"focal_epileptiform": "discharge", "generalized_spike_wave": "discharge", "lpd": "discharge",
          "gpd": "discharge", "focal_slowing": "activity", "generalized_slowing": "activity",
          "lrda": "activity", "grda": "activity"}  # fmt: skip


@cache
def fields(template: str) -> frozenset[str]:
    """The slot names of a template."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def squash(text: str) -> str:
    """Collapse the spaces that empty slots leave; keep a leading space (fragments like " with ... onset")."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=\S) ([,.;:)])", r"\1", text)
    return re.sub(r"\b([Aa]) (8|11|18|8\d)\b", r"\1n \2", text)  # "an 8 Hz", "an 11 Hz"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def uncap(text: str) -> str:
    # Keep acronyms and electrode names ("LPDs", "GRDA", "T7") as they are.
    return text if len(text) > 1 and not text[1].islower() else text[:1].lower() + text[1:]


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def fmt_hz(hz: float, *, pdr: bool = False) -> str:
    # The PDR is written to 0.5 Hz exactly as finding_key rounds it; slow periodic rates keep a decimal.
    value = round(hz * 2) / 2 if pdr or hz >= 1 else round(hz, 1)
    return f"{value:g}"


def band(hz: float) -> str:
    return "delta" if hz < 4 else "theta" if hz < 8 else "alpha" if hz < 13 else "beta"


def about_minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f", lasting about {minutes} minute{'s' if minutes > 1 else ''}"


def clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


class Wording:
    """One report's wording choices and the slot values of its findings.

    Parameters
    ----------
    rng : numpy.random.Generator
        Every choice is drawn from it, in a fixed order: one seed, one text.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.past = self.chance(0.5)
        self.old_names = self.chance(0.4)  # T3/T4/T5/T6 instead of T7/T8/P7/P8, for the whole report
        self.detail = int(rng.integers(3))  # 0 terse ... 2 full: statements of absence, prevalence words
        self._prevalence: dict[int, str] = {}

    def pick(self, seq: tuple | list) -> Any:
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def grammar(self, number: str = "sg") -> dict[str, str]:
        past = self.past
        is_, are = ("was", "were") if past else ("is", "are")
        return {
            "is": is_, "are": are, "be": is_ if number == "sg" else are,
            "shows": "showed" if past else "shows", "begins": "began" if past else "begins",
            "predominates": "predominated" if past else "predominates",
            "consists": "consisted" if past else "consists",
        }  # fmt: skip

    def fill(
        self,
        templates: tuple[str, ...],
        slots: dict[str, str],
        number: str = "sg",
        place: frozenset[str] = frozenset(),
    ) -> str | None:
        """One of the templates whose slots are all given (and, if ``place``, that places the finding)."""
        slots = {**self.grammar(number), **slots}
        usable = [t for t in templates if fields(t) <= slots.keys() and (not place or fields(t) & place)]
        return squash(self.pick(usable).format(**slots)) if usable else None

    def place_slots(self, f: Finding) -> tuple[dict[str, str], frozenset[str]]:
        """Location slots of a finding, and the slots a template must use to carry its location."""
        regions = [r for r in REGIONS if r in f.regions]
        if f.side in (None, "generalized") or f.code in GENERALIZED_CODES:
            # Generalized by its code or unplaced: "generalized"/"bilateral" are not written for these (the
            # code's words say it), regions are written as a predominance.
            if not regions:
                return {"predom": ""}, frozenset()
            slots = {"predom": join([REGION_ADVERBS[r] for r in regions]) + " predominant ",
                     "where": f"with {join(regions)} predominance"}  # fmt: skip
            return slots, frozenset({"predom", "where"})
        slots: dict[str, str] = {"side": f.side}
        pair = P.REGION_COMPOUNDS.get(tuple(regions)) if len(regions) == 2 else None
        words = pair if pair and self.chance(0.6) else join(regions) if regions else ""
        electrodes = P.ELECTRODES.get((f.side, frozenset(regions)))
        if electrodes:
            slots["elx"] = electrodes[1 if self.old_names else 0]
            if len(regions) == 1:
                slots["el"] = slots["elx"]
                slots["el_where"] = self.pick(P.WHERE_ELECTRODE).format(el=slots["el"])
        if regions:
            slots["regions_word"] = words
            slots["region"] = "regions" if " and " in words or f.side == "bilateral" else "region"
        # An electrode alone places a discharge or a rhythm, not an area of slowing or of lower amplitude:
        # those are written with side and region words (the electrode may follow in parentheses).
        by_electrode = "el" in slots and f.code not in AREA_CODES
        if f.side in ("left", "right"):
            slots["loc"] = f"{f.side} {words}" if regions else f"{f.side} hemispheric"
            slots["focal"] = "focal" if regions else "lateralized"
            where = (
                P.WHERE_REGION + (P.WHERE_ELECTRODE if by_electrode else ())
                if regions
                else P.WHERE_HEMISPHERE
            )
        elif f.side == "bilateral":
            # Without regions, "bilateral slowing" reads as generalized: both hemispheres, independently.
            slots["loc"] = f"bilateral {words}" if regions else "bilateral independent"
            slots["focal"] = "focal"
            where = P.WHERE_BILATERAL if regions else P.WHERE_BOTH_HEMISPHERES
        else:  # midline
            slots["loc"] = f"midline {words}".strip()
            slots["region"] = "region"
            slots["focal"] = "focal"
            midline = P.WHERE_MIDLINE if by_electrode else P.WHERE_MIDLINE_REGION
            where = midline if regions else ("in the midline",)
        slots["where"] = self.fill(where, {k: v for k, v in slots.items() if k != "where"}) or ""
        slots["field"] = self.fill(P.FIELDS, slots) or ""
        place = PLACE_SLOTS if regions else PLACE_SLOTS | {"side"}
        return slots, place

    def slots(self, f: Finding) -> tuple[dict[str, str], frozenset[str]]:
        slots, place = self.place_slots(f)
        hz = f.frequency_hz
        slots.update(hzadj="", athz="", bandadj="", prev="", rhythm="")
        if hz is not None:
            text = fmt_hz(hz)
            hz = float(text)  # the band of the number written, so that "4 Hz" is never called delta
            slots.update(hz=text, hzadj=f"{text} Hz ", rhythm=f"{text} Hz {band(hz)}")
            slots["athz"] = self.pick(
                (f" at {text} Hz", f" at approximately {text} Hz", f" at a frequency of {text} Hz")
            )
            slots["bandadj"] = self.pick((f"{band(hz)} ", ""))
        generalized = f.code == "generalized_slowing"
        slots["slowband"] = (
            band(hz) if hz is not None and hz < 8 else "theta and delta" if generalized else "slow"
        )
        if self.chance(0.35 + 0.3 * self.detail):
            slots["prev"] = self.prevalence(f)
        return slots, place

    def prevalence(self, f: Finding) -> str:
        """The prevalence word of a finding ("frequent "), one per finding in a report, or ""."""
        key = id(f)
        if key not in self._prevalence:
            family = FAMILY.get(f.code)
            word = ""
            if family and f.evidence:
                n = len(f.evidence)
                word = self.pick(next(w for limit, w in PREVALENCE[family] if n <= limit)) + " "
            self._prevalence[key] = word
        return self._prevalence[key]

    def noun_phrase(self, f: Finding) -> tuple[str, str]:
        """An unhedged noun phrase for a finding, with its grammatical number (``sg`` or ``pl``)."""
        key = "lpd_bilateral" if f.code == "lpd" and f.side == "bilateral" else f.code
        slots, place = self.slots(f)
        if f.code == "seizure":
            slots["onset"] = self.onset(f, slots)
        usable = [(t, n) for t, n in P.NOUN_PHRASES[key] if fields(t) <= slots.keys()]
        placed = [(t, n) for t, n in usable if not place or fields(t) & place]
        template, number = self.pick(placed or usable)
        text = squash(template.format(**slots)).strip()
        if not placed:  # a location no phrasing of this code foresees (a side on excess beta): say it plainly
            log.debug("no phrasing places %s with side %s, regions %s", f.code, f.side, f.regions)
            text += self.located(f, slots)
        return text, number

    def located(self, f: Finding, slots: dict[str, str] | None = None) -> str:
        """ " over the left temporal region" for a finding whose statement has no place slot, or ""."""
        if f.side in (None, "generalized") and not f.regions:
            return ""
        slots = slots if slots is not None else self.place_slots(f)[0]
        return " " + slots["where"] if slots.get("where") else ""

    def hedged(self, text: str, cert: str) -> str:
        hedge = self.pick(P.HEDGES[cert])
        match = re.match(r"an? (.*)", text)
        return f"a {hedge}{match.group(1)}" if hedge and match else hedge + text

    def onset(self, f: Finding, slots: dict[str, str]) -> str:
        if f.side is None:
            return f" {slots['where']}" if f.regions else ""
        if f.side == "generalized":
            return self.pick(P.ONSET_GENERALIZED)
        table = {"bilateral": P.ONSET_BILATERAL, "midline": P.ONSET_MIDLINE}.get(f.side)
        table = table or (P.ONSET_FOCAL if f.regions else P.ONSET_HEMISPHERE)
        return self.fill(table, slots) or self.fill(P.ONSET_FOCAL, slots) or f", {slots.get('where', '')}"

    def region_phrase(self, f: Finding, slots: dict[str, str]) -> str | None:
        if f.side in ("left", "right"):
            return f"the {slots['loc']} {slots['region']}" if f.regions else f"the {f.side} hemisphere"
        if f.side == "bilateral" and "regions_word" in slots:
            return f"both {slots['regions_word']} regions"
        if f.side == "midline" and "loc" in slots:
            return f"the {slots['loc']} region"
        return None
