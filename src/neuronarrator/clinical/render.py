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
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronarrator.clinical import phrases as P
from neuronarrator.clinical.findings import ARTIFACT_CODES, Finding, Findings, certainty
from neuronarrator.clinical.wording import Wording, about_minutes, cap, clock, fmt_hz, join, squash, uncap

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


class _Writer(Wording):
    """One report's choices (tense, nomenclature, detail, order) and the statements it writes."""

    def __init__(self, doc: Findings, rng: np.random.Generator, extras: dict[str, Any]) -> None:
        super().__init__(rng)
        self.doc, self.extras = doc, extras
        self.codes = doc.codes
        seen = {s.state for s in doc.state_timeline} | {doc.state}
        # Dominant state first: a report names the state the record is mostly in before the others.
        self.states = [doc.state] + [s for s in _STATE_ORDER if s in seen and s != doc.state]
        self.unresponsive = "burst_suppression" in self.codes and doc.state == "awake"
        self.pdr = doc.get("pdr")
        self.order = sorted(
            (i for i, f in enumerate(doc.findings) if f.is_abnormal),
            key=lambda i: (CLINICAL_WEIGHT.index(doc.findings[i].code),
                           _CERTAINTY_RANK[certainty(doc.findings[i].probability)], i),
        )  # fmt: skip

    def sentence(self, section: str, text: str | None, idx: tuple[int, ...] = ()) -> list[Sentence]:
        if not text:
            return []
        text = cap(squash(text).strip())
        text = text if text[-1] in ".:" else text + "."
        codes = tuple(dict.fromkeys(self.doc.findings[i].code for i in idx))
        return [Sentence(section, text, codes, idx)]

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
            into = f"about {minutes} minute{'s' if minutes > 1 else ''} into the recording"
            at = self.pick((f"at {clock(span.start_s)}", into,
                            f"at {span.start_s:.0f} s"))  # fmt: skip
            slots.update(attime=" " + at, attime_cap=at)
            seconds = span.end_s - span.start_s
            slots["dur"] = self.pick((f", lasting {seconds:.0f} seconds", f", with a duration of {seconds:.0f} s",
                                      about_minutes(seconds)))  # fmt: skip
        return self.sentence("description", self.fill(P.SEIZURE_SENTENCES, slots), (i,))

    def state_sentences(self) -> list[Sentence]:
        if self.unresponsive:  # burst suppression: no state to speak of (the schema has no "coma")
            return []
        dominant, others = self.states[0], self.states[1:]
        slots = {"others": "", "noun": self.pick(P.STATE_NOUNS[dominant])}
        if others:
            nouns = join([self.pick(P.STATE_NOUNS[s]) for s in others])
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
        slots = {"hz": fmt_hz(hz, pdr=True), "band": "alpha " if hz >= 8 else "", "amp": "", "react": ""}
        slots["qual"] = self.pick(P.PDR_QUALITIES) if normal else ""
        if normal:
            slots["organized"] = self.pick(P.PDR_ORGANIZED)
        if "pdr_amplitude_uv" in self.extras:
            slots["amp"] = f", of about {float(self.extras['pdr_amplitude_uv']):.0f} µV amplitude"
        reactive = doc.get("pdr_reactive")
        react_cert = certainty(reactive.probability) if reactive else "definite"
        pdr_cert = certainty(self.pdr.probability)
        idx = (i_pdr,)
        # A hedge must reach one finding only: a hedged PDR or reactivity gets a sentence of its own.
        separate = reactive is not None and (
            self.chance(0.35) or "definite" != react_cert or "definite" != pdr_cert
        )
        if reactive is not None and not separate:
            slots["react"] = self.pick(P.PDR_REACT_CLAUSES)
            idx = (i_pdr, doc.findings.index(reactive))
        if pdr_cert == "definite":
            text = self.fill(P.PDR_SENTENCES, slots)
        else:
            np_ = f"a {slots['hz']} Hz posterior dominant rhythm"
            text = self.fill(P.FRAMES[pdr_cert], {"np": np_, "hnp": self.hedged(np_, pdr_cert)})
        out = self.sentence("description", text, idx)
        if separate:
            table = P.PDR_REACT_SENTENCES if react_cert == "definite" else P.PDR_REACT_HEDGED[react_cert]
            out += self.sentence("description", self.fill(table, {}), (doc.findings.index(reactive),))
        if hz < 8 and "generalized_slowing" in self.codes and self.chance(0.6):
            out += self.sentence(
                "description",
                self.pick(("This is slow for age.", "This frequency is slow for age.")),
                idx[:1],
            )
        return out

    def transient_sentences(self) -> list[Sentence]:
        present = [i for i, f in enumerate(self.doc.findings) if f.code in _TRANSIENTS]
        present.sort(key=lambda i: _TRANSIENTS.index(self.doc.findings[i].code))
        codes = {self.doc.findings[i].code for i in present}
        if "n2" in self.states and codes & {"sleep_spindles", "k_complexes"}:
            ctx = self.pick(P.STATE_NOUNS["n2"])
        elif codes == {"vertex_waves"} and "drowsy" in self.states and not _SLEEP_STAGES & set(self.states):
            ctx = "drowsiness"
        else:
            ctx = "sleep"
        nouns = {i: self.pick(P.TRANSIENT_NOUNS[self.doc.findings[i].code]) for i in present}
        return self.listed(present, nouns, P.TRANSIENT_SENTENCES, {"ctx": ctx}, plural=True)

    def artifact_sentences(self) -> list[Sentence]:
        present = [i for i, f in enumerate(self.doc.findings) if f.code in ARTIFACT_CODES]
        names = {}
        for i in present:
            f = self.doc.findings[i]
            names[i] = self.fill(
                P.ARTIFACT_NOUNS[f.code], {"hz": fmt_hz(f.frequency_hz)} if f.frequency_hz else {}
            )
        return self.listed(present, names, P.ARTIFACT_SENTENCES, {}, plural=False)

    def listed(self, idx: list[int], names: dict[int, str], templates: tuple[str, ...], slots: dict[str, str],
               plural: bool) -> list[Sentence]:  # fmt: skip
        """One sentence listing the definite findings; each hedged one in a sentence of its own (so that
        "possible" does not reach the next name in the list)."""
        sure = [i for i in idx if certainty(self.doc.findings[i].probability) == "definite"]
        out: list[Sentence] = []
        if sure:
            listed = join([names[i] + self.located(self.doc.findings[i]) for i in sure])
            number = "pl" if plural or len(sure) > 1 else "sg"
            out += self.sentence(
                "description", self.fill(templates, {**slots, "list": listed}, number), tuple(sure)
            )
        for i in idx:
            cert = certainty(self.doc.findings[i].probability)
            if cert != "definite":
                np_ = names[i] + self.located(self.doc.findings[i])
                text = self.fill(
                    P.FRAMES[cert], {"np": np_, "hnp": self.hedged(np_, cert)}, "pl" if plural else "sg"
                )
                out += self.sentence("description", text, (i,))
        return out

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
        return {"states_adj": join(adjs), "s": "s" if len(adjs) > 1 else "",
                "in_states": " in " + join([P.STATE_IN[a] for a in adjs])}  # fmt: skip

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
            items.append((tuple(group), squash(text).strip(), number))
        return items

    def impression(self) -> list[Sentence]:
        items = self.items()
        slots = self.state_slots()
        if self.doc.impression == "normal":
            if any(certainty(self.doc.findings[i].probability) == "definite" for i in self.order):
                log.warning("impression 'normal' given over definite abnormal findings; written as given")
            hedged_only = items and not any(
                certainty(self.doc.findings[i].probability) == "definite" for i in self.order
            )
            template = P.IMPRESSION_NORMAL_WITH_HEDGED if hedged_only else P.IMPRESSION_NORMAL
            return self.sentence("impression", self.fill(template, slots))
        if not items:
            return self.sentence("impression", self.fill(P.IMPRESSION_ABNORMAL_BARE, {}))
        if len(items) == 1:
            idx, item, _ = items[0]
            return self.sentence(
                "impression", self.fill(P.IMPRESSION_ONE, {**slots, "item": uncap(item)}), idx
            )
        out = self.sentence("impression", self.fill(P.IMPRESSION_MANY, slots))
        for n, (idx, item, _) in enumerate(items, 1):
            out += self.sentence("impression", f"{n}. {cap(item)}.", idx)
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
