"""Findings → report text: what a neurologist writes about a recording, in ACNS 2021 / SCORE terms.

:func:`render_report` writes the three sections of the report document (DESIGN.md, "The report
document"): DESCRIPTION OF THE RECORD, IMPRESSION and CLINICAL CORRELATION. The text carries everything
:func:`~neuronarrator.clinical.findings.findings_key` keeps (each finding's code, side, regions and
certainty class, the PDR frequency to 0.5 Hz, the dominant state and the impression) and asserts nothing
else about the recording: no amplitude unless given in ``extras``, no statement of absence that a
finding contradicts, no artifact in the impression.

Variety is drawn from the phrase tables of :mod:`neuronarrator.clinical.phrases`: per report a tense,
an electrode nomenclature (T7/T8/P7/P8 or T3/T4/T5/T6), a level of detail and a sentence order; per
statement one of several phrasings. All of it comes from one random generator, so a seed gives one text.
Each sentence keeps the findings it states (:class:`Sentence`), so the product can link a sentence to
its evidence.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from neuronarrator.clinical import phrases as P
from neuronarrator.clinical.findings import (
    ARTIFACT_CODES,
    GENERALIZED_CODES,
    REGIONS,
    Finding,
    Findings,
    certainty,
)

log = logging.getLogger(__name__)

SECTIONS = ("description", "impression", "clinical_correlation")
HEADINGS = {
    "description": "DESCRIPTION OF THE RECORD",
    "impression": "IMPRESSION",
    "clinical_correlation": "CLINICAL CORRELATION",
}
#: Abnormal codes by clinical weight: the impression lists them in this order.
CLINICAL_WEIGHT = (
    "seizure", "burst_suppression", "generalized_spike_wave", "focal_epileptiform", "lpd", "gpd", "lrda",
    "grda", "focal_slowing", "generalized_slowing", "asymmetry", "excess_beta",
)  # fmt: skip
_CERTAINTY_RANK = {"definite": 0, "probable": 1, "possible": 2}
_BACKGROUND_CODES = ("burst_suppression", "generalized_slowing", "asymmetry", "excess_beta")
_TRANSIENTS = ("sleep_spindles", "vertex_waves", "k_complexes")
_STATE_ORDER = ("awake", "drowsy", "n1", "n2", "n3", "rem")
_SLEEP_STAGES = frozenset({"n1", "n2", "n3", "rem"})
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_REGION_ADVERBS = {"frontal": "frontally", "central": "centrally", "temporal": "temporally",
                   "parietal": "parietally", "occipital": "occipitally"}  # fmt: skip
# Slots that place a finding; a lateralized finding is only written with a template that has one.
_PLACE_SLOTS = frozenset({"loc", "where", "el", "el_where", "onset", "predom"})
# Prevalence words by number of evidence spans, per family (ACNS: rare/occasional/frequent/abundant).
_PREVALENCE = {
    "discharge": ((1, ("rare", "occasional")), (3, ("occasional",)), (9, ("frequent",)), (10**9, ("abundant", "frequent"))),
    "activity": ((1, ("occasional",)), (5, ("intermittent",)), (10**9, ("frequent", "intermittent"))),
}  # fmt: skip
_FAMILY = {"focal_epileptiform": "discharge", "generalized_spike_wave": "discharge", "lpd": "discharge",
           "gpd": "discharge", "focal_slowing": "activity", "generalized_slowing": "activity",
           "lrda": "activity", "grda": "activity"}  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    """One sentence of a report and what it states.

    Attributes
    ----------
    section : str
        ``description``, ``impression`` or ``clinical_correlation``.
    text : str
        The sentence (an impression item keeps its number, ``"1. Left temporal slowing."``).
    codes : tuple of str
        Finding codes the sentence states (empty for statements of state, absence or advice).
    findings : tuple of int
        Indices into ``Findings.findings`` of the findings the sentence states: the link to evidence.
    """

    section: str
    text: str
    codes: tuple[str, ...] = ()
    findings: tuple[int, ...] = ()


@dataclass(frozen=True)
class Narrative:
    """A rendered report: its three sections, the whole text with headings, and per-sentence provenance."""

    description: str
    impression: str
    clinical_correlation: str
    text: str
    sentences: tuple[Sentence, ...] = ()

    def to_dict(self) -> dict[str, str]:
        """The ``narrative`` object of the report document (DESIGN.md)."""
        return {s: getattr(self, s) for s in SECTIONS}


def render_report(
    findings: Findings, *, rng: np.random.Generator | int | None = None, extras: dict[str, Any] | None = None
) -> Narrative:
    """Write the report a neurologist would write for these findings.

    Parameters
    ----------
    findings : Findings
        What the report asserts: findings present, dominant state (with its timeline), impression.
    rng : numpy.random.Generator | int | None
        Source of the phrasing choices; the same seed gives the same text. ``None``: fresh entropy.
    extras : dict, optional
        Facts beyond the schema the text may state, merged over ``findings.extras``. Used:
        ``pdr_amplitude_uv`` (amplitude of the PDR, µV).

    Returns
    -------
    Narrative
        ``description``, ``impression``, ``clinical_correlation``, the whole ``text`` with headings
        (DESCRIPTION OF THE RECORD / IMPRESSION / CLINICAL CORRELATION) and its ``sentences``.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    writer = _Writer(findings, gen, {**findings.extras, **(extras or {})})
    sentences = writer.description() + writer.impression() + writer.correlation()
    sections = {s: _section_text(s, [x for x in sentences if x.section == s]) for s in SECTIONS}
    text = "\n\n".join(f"{HEADINGS[s]}:\n{sections[s]}" for s in SECTIONS) + "\n"
    log.debug("rendered %d sentences for %d findings", len(sentences), len(findings.findings))
    return Narrative(**sections, text=text, sentences=tuple(sentences))


def _section_text(section: str, sentences: list[Sentence]) -> str:
    # Impression: a heading line ending in ':' puts its numbered items one per line.
    if section == "impression" and sentences and sentences[0].text.endswith(":"):
        return "\n".join(s.text for s in sentences)
    return " ".join(s.text for s in sentences)


@cache
def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _squash(text: str) -> str:
    """Collapse the spaces that empty slots leave; keep a leading space (fragments like " with ... onset")."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=\S) ([,.;:)])", r"\1", text)
    return re.sub(r"\b([Aa]) (8|11|18|8\d)\b", r"\1n \2", text)  # "an 8 Hz", "an 11 Hz"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _uncap(text: str) -> str:
    # Keep acronyms and electrode names ("LPDs", "GRDA", "T7") as they are.
    return text if len(text) > 1 and not text[1].islower() else text[:1].lower() + text[1:]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _fmt_hz(hz: float, *, pdr: bool = False) -> str:
    # The PDR is written to 0.5 Hz exactly as finding_key rounds it; slow periodic rates keep a decimal.
    value = round(hz * 2) / 2 if pdr or hz >= 1 else round(hz, 1)
    return f"{value:g}"


def _band(hz: float) -> str:
    return "delta" if hz < 4 else "theta" if hz < 8 else "alpha" if hz < 13 else "beta"


def _about_minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f", lasting about {minutes} minute{'s' if minutes > 1 else ''}"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


class _Writer:
    """One report's choices (tense, nomenclature, detail, order) and the statements it writes."""

    def __init__(self, doc: Findings, rng: np.random.Generator, extras: dict[str, Any]) -> None:
        self.doc, self.rng, self.extras = doc, rng, extras
        self.codes = doc.codes
        self.past = self.chance(0.5)
        self.old_names = self.chance(0.4)
        self.detail = int(rng.integers(3))  # 0 terse ... 2 full: statements of absence, prevalence words
        seen = {s.state for s in doc.state_timeline} | {doc.state}
        # Dominant state first: the labeler (and a reader) takes the first state named as the dominant one.
        self.states = [doc.state] + [s for s in _STATE_ORDER if s in seen and s != doc.state]
        self.unresponsive = "burst_suppression" in self.codes and doc.state == "awake"
        self.pdr = doc.get("pdr")
        self._prevalence: dict[int, str] = {}
        self.order = sorted(
            (i for i, f in enumerate(doc.findings) if f.is_abnormal),
            key=lambda i: (CLINICAL_WEIGHT.index(doc.findings[i].code),
                           _CERTAINTY_RANK[certainty(doc.findings[i].probability)], i),
        )  # fmt: skip

    # --- choice and filling -------------------------------------------------------------------------
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
        usable = [t for t in templates if _fields(t) <= slots.keys() and (not place or _fields(t) & place)]
        return _squash(self.pick(usable).format(**slots)) if usable else None

    def sentence(self, section: str, text: str | None, idx: tuple[int, ...] = ()) -> list[Sentence]:
        if not text:
            return []
        text = _cap(_squash(text).strip())
        text = text if text[-1] in ".:" else text + "."
        codes = tuple(dict.fromkeys(self.doc.findings[i].code for i in idx))
        return [Sentence(section, text, codes, idx)]

    # --- what a finding's text is made of ------------------------------------------------------------
    def place_slots(self, f: Finding) -> tuple[dict[str, str], frozenset[str]]:
        """Location slots of a finding, and the slots a template must use to carry its location."""
        regions = [r for r in REGIONS if r in f.regions]
        if f.side in (None, "generalized") or f.code in GENERALIZED_CODES:
            adverbs = _join([_REGION_ADVERBS[r] for r in regions]) + " predominant " if regions else ""
            return {"predom": adverbs}, frozenset({"predom"}) if regions else frozenset()
        slots: dict[str, str] = {"side": f.side}
        pair = P.REGION_COMPOUNDS.get(tuple(regions)) if len(regions) == 2 else None
        words = pair if pair and self.chance(0.6) else _join(regions) if regions else ""
        electrodes = P.ELECTRODES.get((f.side, frozenset(regions)))
        if electrodes:
            slots["elx"] = electrodes[1 if self.old_names else 0]
            if len(regions) == 1:
                slots["el"] = slots["elx"]
                slots["el_where"] = self.pick(P.WHERE_ELECTRODE).format(el=slots["el"])
        if regions:
            slots["regions_word"] = words
            slots["region"] = "regions" if " and " in words or f.side == "bilateral" else "region"
        if f.side in ("left", "right"):
            slots["loc"] = f"{f.side} {words}" if regions else f"{f.side} hemispheric"
            slots["focal"] = "focal" if regions else "lateralized"
            # An electrode alone places a discharge or a rhythm, not a lower-amplitude area.
            by_electrode = "el" in slots and f.code != "asymmetry"
            where = P.WHERE_REGION + (P.WHERE_ELECTRODE if by_electrode else ()) if regions else P.WHERE_HEMISPHERE
        elif f.side == "bilateral":
            slots["loc"] = f"bilateral {words}".strip()
            slots["focal"] = "focal"
            where = P.WHERE_BILATERAL if regions else ("over both hemispheres",)
        else:  # midline
            slots["loc"] = f"midline {words}".strip()
            slots["region"] = "region"
            slots["focal"] = "focal"
            where = P.WHERE_MIDLINE if regions else ("in the midline",)
        slots["where"] = self.fill(where, {k: v for k, v in slots.items() if k != "where"}) or ""
        slots["field"] = self.fill(P.FIELDS, slots) or ""
        place = _PLACE_SLOTS if regions else _PLACE_SLOTS | {"side"}
        return slots, place

    def slots(self, f: Finding) -> tuple[dict[str, str], frozenset[str]]:
        slots, place = self.place_slots(f)
        hz = f.frequency_hz
        slots.update(hzadj="", athz="", bandadj="", prev="", rhythm="")
        if hz is not None:
            text = _fmt_hz(hz)
            hz = float(text)  # the band of the number written, so that "4 Hz" is never called delta
            slots.update(hz=text, hzadj=f"{text} Hz ", rhythm=f"{text} Hz {_band(hz)}")
            slots["athz"] = self.pick(
                (f" at {text} Hz", f" at approximately {text} Hz", f" at a frequency of {text} Hz")
            )
            slots["bandadj"] = self.pick((f"{_band(hz)} ", ""))
        generalized = f.code == "generalized_slowing"
        slots["slowband"] = (
            _band(hz) if hz is not None and hz < 8 else "theta and delta" if generalized else "slow"
        )
        if self.chance(0.35 + 0.3 * self.detail):
            slots["prev"] = self.prevalence(f)
        return slots, place

    def prevalence(self, f: Finding) -> str:
        """The prevalence word of a finding ("frequent "), one per finding in a report, or ""."""
        key = id(f)
        if key not in self._prevalence:
            family = _FAMILY.get(f.code)
            word = ""
            if family and f.evidence:
                n = len(f.evidence)
                word = self.pick(next(w for limit, w in _PREVALENCE[family] if n <= limit)) + " "
            self._prevalence[key] = word
        return self._prevalence[key]

    def noun_phrase(self, f: Finding) -> tuple[str, str]:
        """An unhedged noun phrase for a finding, with its grammatical number (``sg`` or ``pl``)."""
        key = "lpd_bilateral" if f.code == "lpd" and f.side == "bilateral" else f.code
        slots, place = self.slots(f)
        if f.code == "seizure":
            slots["onset"] = self.onset(f, slots)
        usable = [
            (t, n)
            for t, n in P.NOUN_PHRASES[key]
            if _fields(t) <= slots.keys() and (not place or _fields(t) & place)
        ]
        if not usable:  # a location the tables do not foresee (regions on excess beta...): say it plainly
            log.warning("no phrasing places %s with side %s, regions %s", f.code, f.side, f.regions)
            template, number = P.NOUN_PHRASES[key][0]
            return _squash(
                template.format(**{**slots, "np": ""}) + " " + (slots.get("where") or slots.get("predom", ""))
            ), number
        template, number = self.pick(usable)
        return _squash(template.format(**slots)).strip(), number

    def hedged(self, text: str, cert: str) -> str:
        hedge = self.pick(P.HEDGES[cert])
        match = re.match(r"an? (.*)", text)
        return f"a {hedge}{match.group(1)}" if hedge and match else hedge + text

    def onset(self, f: Finding, slots: dict[str, str]) -> str:
        if f.side is None:
            return ""
        if f.side == "generalized":
            return self.pick(P.ONSET_GENERALIZED)
        table = {"bilateral": P.ONSET_BILATERAL, "midline": P.ONSET_MIDLINE}.get(f.side)
        table = table or (P.ONSET_FOCAL if f.regions else P.ONSET_HEMISPHERE)
        return self.fill(table, slots) or self.fill(P.ONSET_FOCAL, slots) or f", {slots.get('where', '')}"

    # --- DESCRIPTION OF THE RECORD -------------------------------------------------------------------
    def finding_sentence(self, i: int, nth_seizure: int = 0) -> list[Sentence]:
        f = self.doc.findings[i]
        cert = certainty(f.probability)
        if f.code == "seizure":
            return self.seizure_sentence(i, cert, nth_seizure)
        key = "lpd_bilateral" if f.code == "lpd" and f.side == "bilateral" else f.code
        if cert == "definite" and key in P.CODE_SENTENCES and self.chance(0.4):
            slots, place = self.slots(f)
            text = self.fill(P.CODE_SENTENCES[key], slots, place=place)
            if text:
                return self.sentence("description", text, (i,))
        np_, number = self.noun_phrase(f)
        text = self.fill(P.FRAMES[cert], {"np": np_, "hnp": self.hedged(np_, cert)}, number)
        return self.sentence("description", text, (i,))

    def seizure_sentence(self, i: int, cert: str, nth: int) -> list[Sentence]:
        f = self.doc.findings[i]
        slots, _ = self.slots(f)
        slots["onset"] = self.onset(f, slots)
        noun = self.pick((P.SEIZURE_NOUNS_AGAIN if nth else P.SEIZURE_NOUNS)[cert])
        slots["sz"] = noun.format(ordinal=P.ORDINALS[min(nth, len(P.ORDINALS) - 1)])
        slots["evol"] = self.fill(P.EVOLUTION, slots) if cert == "definite" and self.chance(0.7) else ""
        slots["attime"] = slots["dur"] = ""
        if f.evidence:
            span = f.evidence[0]
            minutes = max(1, round(span.start_s / 60))
            at = self.pick((f"at {_clock(span.start_s)}", f"about {minutes} minutes into the recording",
                            f"at {span.start_s:.0f} s"))  # fmt: skip
            slots.update(attime=" " + at, attime_cap=at)
            seconds = span.end_s - span.start_s
            slots["dur"] = self.pick((f", lasting {seconds:.0f} seconds", f", with a duration of {seconds:.0f} s",
                                      _about_minutes(seconds)))  # fmt: skip
        return self.sentence("description", self.fill(P.SEIZURE_SENTENCES, slots), (i,))

    def state_sentences(self) -> list[Sentence]:
        if self.unresponsive:  # burst suppression: no state to speak of (the schema has no "coma")
            return []
        dominant, others = self.states[0], self.states[1:]
        slots = {"others": "", "noun": self.pick(P.STATE_NOUNS[dominant])}
        if others:
            nouns = _join([self.pick(P.STATE_NOUNS[s]) for s in others])
            number = "pl" if len(others) > 1 else "sg"
            slots["others"] = self.fill(
                P.STATE_OTHERS, {"list": nouns, "brief": self.pick(P.STATE_BRIEF)}, number
            )
        kind = dominant if dominant in ("awake", "drowsy") else "sleep"
        return self.sentence("description", self.fill(P.STATE_SENTENCES[kind], slots))

    def pdr_sentences(self) -> list[Sentence]:
        doc = self.doc
        if self.pdr is None:
            asleep = self.states[0] in _SLEEP_STAGES
            if self.unresponsive:
                kind = "unresponsive" if self.chance(0.5) else None
            elif not asleep:
                kind = "awake"
            else:  # asleep: say so only where the timeline shows that wakefulness was never recorded
                kind = "sleep" if doc.state_timeline and not {"awake", "drowsy"} & set(self.states) else None
            return self.sentence("description", self.fill(P.PDR_ABSENT[kind], {})) if kind else []
        i_pdr = doc.findings.index(self.pdr)
        hz = self.pdr.frequency_hz
        normal = not {"generalized_slowing", "burst_suppression", "asymmetry"} & self.codes and hz >= 8
        slots = {"hz": _fmt_hz(hz, pdr=True), "band": "alpha " if hz >= 8 else "", "amp": "", "react": ""}
        slots["qual"] = self.pick(P.PDR_QUALITIES) if normal else ""
        if normal:
            slots["organized"] = self.pick(P.PDR_ORGANIZED)
        if "pdr_amplitude_uv" in self.extras:
            slots["amp"] = f", of about {float(self.extras['pdr_amplitude_uv']):.0f} µV amplitude"
        reactive = doc.get("pdr_reactive")
        idx = (i_pdr,)
        separate = reactive is not None and self.chance(0.35)
        if reactive is not None and not separate:
            slots["react"] = self.pick(P.PDR_REACT_CLAUSES)
            idx = (i_pdr, doc.findings.index(reactive))
        out = self.sentence("description", self.fill(P.PDR_SENTENCES, slots), idx)
        if separate:
            react = self.fill(P.PDR_REACT_SENTENCES, {})
            out += self.sentence("description", react, (doc.findings.index(reactive),))
        if hz < 8 and "generalized_slowing" in self.codes and self.chance(0.6):
            out += self.sentence(
                "description",
                self.pick(("This is slow for age.", "This frequency is slow for age.")),
                idx[:1],
            )
        return out

    def transient_sentences(self) -> list[Sentence]:
        present = [i for i, f in enumerate(self.doc.findings) if f.code in _TRANSIENTS]
        if not present:
            return []
        present.sort(key=lambda i: _TRANSIENTS.index(self.doc.findings[i].code))
        codes = {self.doc.findings[i].code for i in present}
        if "n2" in self.states and codes & {"sleep_spindles", "k_complexes"}:
            ctx = self.pick(P.STATE_NOUNS["n2"])
        elif codes == {"vertex_waves"} and "drowsy" in self.states and not _SLEEP_STAGES & set(self.states):
            ctx = "drowsiness"
        else:
            ctx = "sleep"
        nouns = _join([self.pick(P.TRANSIENT_NOUNS[self.doc.findings[i].code]) for i in present])
        return self.sentence(
            "description", self.fill(P.TRANSIENT_SENTENCES, {"ctx": ctx, "list": nouns}), tuple(present)
        )

    def artifact_sentences(self) -> list[Sentence]:
        present = [i for i, f in enumerate(self.doc.findings) if f.code in ARTIFACT_CODES]
        if not present:
            return []
        names = []
        for i in present:
            f = self.doc.findings[i]
            hz = {"hz": _fmt_hz(f.frequency_hz)} if f.frequency_hz else {}
            names.append(self.fill(P.ARTIFACT_NOUNS[f.code], hz))
        return self.sentence(
            "description", self.fill(P.ARTIFACT_SENTENCES, {"list": _join(names)}, "pl" if len(names) > 1 else "sg"), tuple(present)
        )

    def absence_sentences(self) -> list[Sentence]:
        slow_pdr = self.pdr is not None and self.pdr.frequency_hz < 8
        usable = [
            k
            for k, (forbidden, _) in P.ABSENCE.items()
            if not forbidden & self.codes and not (k == "slowing" and slow_pdr)
        ]
        if not usable or self.unresponsive:
            return []
        normal = self.doc.impression == "normal"
        n = min(len(usable), int(self.rng.integers(1 if normal else 0, 2 + self.detail)))
        chosen = [usable[j] for j in sorted(self.rng.permutation(len(usable))[:n])]
        return [s for k in chosen for s in self.sentence("description", self.fill(P.ABSENCE[k][1], {}))]

    def description(self) -> list[Sentence]:
        doc = self.doc
        background_idx = [i for i in self.order if doc.findings[i].code in _BACKGROUND_CODES]
        focal_idx = [i for i in self.order if doc.findings[i].code not in _BACKGROUND_CODES]
        if self.chance(0.4):  # slowing before discharges, as many reports go from background outwards
            focal_idx.sort(key=lambda i: -CLINICAL_WEIGHT.index(doc.findings[i].code))
        # Seizures in the order they happened, so "another seizure" follows the first.
        seizure_slots = [j for j, i in enumerate(focal_idx) if doc.findings[i].code == "seizure"]
        by_time = sorted((focal_idx[j] for j in seizure_slots), key=lambda i: self.onset_s(doc.findings[i]))
        for j, i in zip(seizure_slots, by_time, strict=True):
            focal_idx[j] = i
        pdr = self.pdr_sentences()
        background = [s for i in background_idx for s in self.finding_sentence(i)]
        if "burst_suppression" in self.codes or self.chance(0.3):
            background = background + pdr
        else:
            background = pdr + background
        seizures = 0
        focal: list[Sentence] = []
        for i in focal_idx:
            focal += self.finding_sentence(i, seizures)
            seizures += doc.findings[i].code == "seizure"
        state = self.state_sentences() + self.transient_sentences()
        tail = self.absence_sentences()
        artifacts = self.artifact_sentences()
        tail = tail + artifacts if self.chance(0.5) else artifacts + tail
        if self.states[0] != "awake" or self.chance(0.4):  # a non-waking dominant state is named first
            return state + background + focal + tail
        return background + (state + focal if self.chance(0.6) else focal + state) + tail

    @staticmethod
    def onset_s(f: Finding) -> float:
        return f.evidence[0].start_s if f.evidence else float("inf")

    # --- IMPRESSION -----------------------------------------------------------------------------------
    def state_slots(self) -> dict[str, str]:
        if self.unresponsive:
            return {}
        adjs = list(dict.fromkeys(P.STATE_ADJ[s] for s in self.states))
        return {"states_adj": _join(adjs), "s": "s" if len(adjs) > 1 else "",
                "in_states": " in " + _join([P.STATE_IN[a] for a in adjs])}  # fmt: skip

    def items(self) -> list[tuple[tuple[int, ...], str, str]]:
        """Impression items by clinical weight: (finding indices, hedged noun phrase, grammatical number).

        Seizures with the same location and certainty make one item ("two electrographic seizures ...").
        """
        groups: list[list[int]] = []
        seizures: dict[tuple, list[int]] = {}
        for i in self.order:
            f = self.doc.findings[i]
            if f.code != "seizure":
                groups.append([i])
                continue
            key = (f.side, frozenset(f.regions), certainty(f.probability))
            if key in seizures:
                seizures[key].append(i)
            else:
                seizures[key] = [i]
                groups.append(seizures[key])
        items = []
        for group in groups:
            f = self.doc.findings[group[0]]
            cert = certainty(f.probability)
            if len(group) > 1:
                slots, _ = self.slots(f)
                count = _COUNT_WORDS.get(len(group), str(len(group)))
                text, number = (
                    f"{count} {self.pick(P.HEDGES[cert])}electrographic seizures{self.onset(f, slots)}",
                    "pl",
                )
            else:
                np_, number = self.noun_phrase(f)
                text = self.hedged(np_, cert)
            items.append((tuple(group), _squash(text).strip(), number))
        return items

    def impression(self) -> list[Sentence]:
        items = self.items()
        slots = self.state_slots()
        if self.doc.impression == "normal":
            template = P.IMPRESSION_NORMAL_WITH_HEDGED if items else P.IMPRESSION_NORMAL
            return self.sentence("impression", self.fill(template, slots))
        if not items:
            return self.sentence("impression", self.fill(P.IMPRESSION_ABNORMAL_BARE, {}))
        if len(items) == 1:
            idx, item, _ = items[0]
            return self.sentence(
                "impression", self.fill(P.IMPRESSION_ONE, {**slots, "item": _uncap(item)}), idx
            )
        out = self.sentence("impression", self.fill(P.IMPRESSION_MANY, slots))
        for n, (idx, item, _) in enumerate(items, 1):
            out += self.sentence("impression", f"{n}. {_cap(item)}.", idx)
        return out

    # --- CLINICAL CORRELATION -------------------------------------------------------------------------
    def correlation(self) -> list[Sentence]:
        items = self.items()
        out: list[Sentence] = []
        if not items and self.doc.impression == "normal":
            out += self.sentence("clinical_correlation", self.fill(P.CORRELATION["normal"], {}))
        for idx, ref, number in items:
            f = self.doc.findings[idx[0]]
            cert = certainty(f.probability)
            if cert == "possible":
                out += self.sentence(
                    "clinical_correlation", self.fill(P.CORRELATION["uncertain"], {"ref": ref}, number), idx
                )
                continue
            slots, _ = self.slots(f)
            if f.code == "seizure":  # a singular subject for one seizure or several
                subj = self.pick(("The recorded seizure activity", "This seizure activity", "The seizure"))
                subj = subj if cert == "definite" else f"The {self.pick(P.HEDGES[cert])}seizure activity"
            else:
                subj = self.pick(P.SUBJECTS).format(ref=ref)
            extra = {"subj": subj, "from_region": " of generalized onset" if f.side == "generalized" else ""}
            region = self.region_phrase(f, slots)
            if region:
                extra.update(region=region, from_region=f" in {region}")
            out += self.sentence("clinical_correlation", self.fill(P.CORRELATION[f.code], extra), idx)
        if self.chance(0.6 if items else 0.4) and not (out and "correlat" in out[-1].text):
            out += self.sentence("clinical_correlation", self.fill(P.CORRELATION["closing"], {}))
        return out or self.sentence("clinical_correlation", self.fill(P.CORRELATION["closing"], {}))

    def region_phrase(self, f: Finding, slots: dict[str, str]) -> str | None:
        if f.side in ("left", "right"):
            return f"the {slots['loc']} {slots['region']}" if f.regions else f"the {f.side} hemisphere"
        if f.side == "bilateral" and f.regions:
            return f"both {slots['regions_word']} regions"
        if f.side == "midline":
            return f"the {slots['loc']} region"
        return None
