"""Report text -> findings: read an EEG report the way a neurologist wrote it.

The labeler is written from how clinical EEG reports are worded (ACNS Guideline 7; TUH EEG corpus reports),
not from the project's renderer, so that running it on rendered narratives is a real check. It works in
five steps, each with its rules in one place:

1. **Sections** (``text.split_sections``): only DESCRIPTION / IMPRESSION-like sections are read; CLINICAL
   HISTORY, MEDICATIONS, INDICATION and CLINICAL CORRELATION never produce findings ("history of
   seizures" is not a seizure on the EEG; the correlation interprets findings already stated).
2. **Sentences and words** (``text.split_sentences``, ``lexicon.MASKS`` / ``lexicon.PATTERNS``): benign
   variants and clinical phrases are masked, then each pattern claims its words in priority order.
3. **Scope** (``text.find_cues`` / ``text.in_scope``): negation ("no", "without", "were not seen") and
   hedges ("possible" -> 0.5, "probable"/"likely" -> 0.75, else 1.0) within the clause.
4. **Location** (``location``): side/region/electrode phrases go to the finding they modify; concepts
   such as "slowing" or "periodic discharges" become focal or generalized codes by that location.
5. **Merge**: mentions of one finding (description and impression) merge, the highest certainty wins;
   state and impression are read; a stated impression that disagrees with the findings is kept, with a
   warning.

Steps 2-4 live in ``mentions.py``. Ambiguities are settled by rules documented where they are applied
(``mentions._resolve``, ``label._read_state``, ``label._merge``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from neuronarrator.clinical import lexicon as lx
from neuronarrator.clinical.findings import (
    ARTIFACT_CODES,
    CERTAINTY_PROBABILITY,
    CODES,
    LATERALIZED_CODES,
    REGIONS,
    SIDES,
    Finding,
    Findings,
    derive_impression,
)
from neuronarrator.clinical.location import combine_sides
from neuronarrator.clinical.mentions import Hit, SentenceRead, read_section
from neuronarrator.clinical.text import (
    FINDING_SECTIONS,
    Section,
    clause_of,
    clause_spans,
    find_cues,
    in_scope,
    split_sections,
)
from neuronarrator.io.channels import CANONICAL_19

log = logging.getLogger(__name__)

_CERTAINTIES = ("possible", "probable", "definite")
_STAGES = frozenset({"n1", "n2", "n3", "rem"})


@dataclass(frozen=True)
class Mention:
    """One place the report speaks of a finding, whether or not it became one.

    ``span`` and ``sentence`` are character spans in the report; ``note`` says why a mention was set aside
    (negated mentions have ``negated`` set instead).
    """

    code: str | None
    concept: str
    text: str
    span: tuple[int, int]
    sentence: tuple[int, int]
    section: str
    negated: bool
    certainty: str
    side: str | None = None
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    frequency_hz: float | None = None
    note: str = ""
    regions_stated: bool = False  # regions from region words, not only from electrode names

    @property
    def asserted(self) -> bool:
        """Whether this mention asserts a finding present."""
        return self.code is not None and not self.negated and not self.note


@dataclass(frozen=True)
class LabelResult:
    """What the labeler read: the findings, and where in the text each came from.

    ``sources[i]`` holds the sentence spans (start, end) that produced ``findings.findings[i]``.
    """

    findings: Findings
    sources: tuple[tuple[tuple[int, int], ...], ...]
    mentions: tuple[Mention, ...]
    sections: tuple[Section, ...]
    stated_impression: str | None
    derived_impression: str
    warnings: tuple[str, ...] = ()
    unmapped: tuple[str, ...] = ()

    def sources_of(self, finding: Finding) -> tuple[tuple[int, int], ...]:
        """The sentence spans that produced ``finding`` (one of ``findings.findings``)."""
        for f, spans in zip(self.findings.findings, self.sources, strict=True):
            if f is finding or f == finding:
                return spans
        return ()


def label_report(text: str) -> Findings:
    """The findings a report's text asserts (see :func:`analyze_report` for spans and warnings)."""
    return analyze_report(text).findings


def analyze_report(text: str) -> LabelResult:
    """Read a report: findings with the sentence spans that produced them, every mention, warnings.

    Parameters
    ----------
    text : the report, any layout (TUH-style headed sections, a paragraph, a one-liner).

    Returns
    -------
    LabelResult
    """
    sections = split_sections(text)
    reads: list[SentenceRead] = []
    unmapped: list[str] = []
    warnings: list[str] = []
    for section in sections:
        if section.kind not in FINDING_SECTIONS:
            continue
        section_reads, names = read_section(text, section)
        reads.extend(section_reads)
        unmapped.extend(names)
    mentions = [_mention(h, r) for r in reads for h in r.hits]
    findings, sources = _merge(mentions, warnings)
    state = _read_state(reads)
    stated = _stated_impression(reads)
    derived = derive_impression(findings)
    if stated is not None and stated != derived:
        warnings.append(f"the report says {stated!r} but its findings make it {derived!r}; kept {stated!r}")
    for w in warnings:
        log.debug("label: %s", w)
    doc = Findings(findings=tuple(findings), state=state, impression=stated or derived)
    return LabelResult(
        findings=doc,
        sources=tuple(sources),
        mentions=tuple(mentions),
        sections=tuple(sections),
        stated_impression=stated,
        derived_impression=derived,
        warnings=tuple(warnings),
        unmapped=tuple(dict.fromkeys(unmapped)),
    )


def _mention(h: Hit, read: SentenceRead) -> Mention:
    base = read.sentence.start
    return Mention(
        code=h.code,
        concept=h.pattern.concept,
        text=read.sentence.text[h.start : h.end],
        span=(base + h.start, base + h.end),
        sentence=(read.sentence.start, read.sentence.end),
        section=read.sentence.section.kind,
        negated=h.negated,
        certainty=h.certainty,
        side=h.side,
        regions=h.regions,
        channels=h.channels,
        frequency_hz=h.frequency_hz,
        note=h.note,
        regions_stated=h.regions_stated,
    )


# --- whole report ---------------------------------------------------------------------------------------
def _merge(
    mentions: list[Mention], warnings: list[str]
) -> tuple[list[Finding], list[tuple[tuple[int, int], ...]]]:
    """Mentions of one finding become one: same code (and, for lateralized codes and seizures, same side
    and place).

    A lateralized code on one side at places that do not overlap is two findings ("left frontal slowing ...
    left occipital slowing"); a mention without regions, or one that overlaps a place, joins the first such
    place ("left temporal sharp waves" in the impression joins "sharp waves at T3"). The highest certainty
    wins (the description's "sharp waves" beat the impression's "possible"); regions and channels are
    united; the first frequency written is kept. A seizure with no side joins a located one. A PDR without
    a frequency, or reactivity without a PDR, cannot be a finding and is reported.
    """
    groups: dict[tuple[str, str | None], list[list[Mention]]] = {}
    for m in mentions:
        if not m.asserted:
            if m.note == "no side given" and not m.negated:
                warnings.append(f"{m.code} at {m.span} has no side; not listed")
            continue
        per_side = m.code in LATERALIZED_CODES or m.code == "seizure"
        places = groups.setdefault((m.code, m.side if per_side else None), [])
        place = next((g for g in places if not per_side or _same_place(m, g)), None)
        if place is None:
            place = []
            places.append(place)
        place.append(m)
    for (code, side), places in list(groups.items()):
        located = [k for k in groups if k[0] == code and k[1] is not None]
        if code == "seizure" and side is None and located:
            groups[located[0]][0].extend(m for g in places for m in g)
            del groups[(code, side)]
    findings: list[tuple[Finding, tuple[tuple[int, int], ...]]] = []
    for (code, side), group in ((key, g) for key, places in groups.items() for g in places):
        group.sort(key=lambda m: m.span)
        certainty = max((m.certainty for m in group), key=_CERTAINTIES.index)
        frequency = next((m.frequency_hz for m in group if m.frequency_hz is not None), None)
        if code == "pdr" and frequency is None:
            warnings.append("posterior dominant rhythm described without a frequency; not listed")
            continue
        stated = [m for m in group if m.regions_stated] or group
        if code not in LATERALIZED_CODES and code != "seizure":
            side = combine_sides({m.side for m in group if m.side}) if code in ARTIFACT_CODES else None
        finding = Finding(
            code=code,
            probability=CERTAINTY_PROBABILITY[certainty],
            side=side,
            regions=tuple(r for r in REGIONS if any(r in m.regions for m in stated)),
            frequency_hz=frequency,
            channels=tuple(c for c in CANONICAL_19 if any(c in m.channels for m in group)),
        )
        findings.append((finding, tuple(dict.fromkeys(m.sentence for m in group))))
    codes = {f.code for f, _ in findings}
    if "pdr_reactive" in codes and "pdr" not in codes:
        warnings.append("reactivity described without a listed posterior dominant rhythm; not listed")
        findings = [(f, s) for f, s in findings if f.code != "pdr_reactive"]
    order = list(CODES)
    findings.sort(key=lambda fs: (order.index(fs[0].code), SIDES.index(fs[0].side) if fs[0].side else -1))
    return [f for f, _ in findings], [s for _, s in findings]


def _same_place(m: Mention, group: list[Mention]) -> bool:
    regions = {r for g in group for r in g.regions}
    return not m.regions or not regions or bool(regions & set(m.regions))


def state_words(read: SentenceRead) -> list[tuple[str, bool]]:
    """The state words of one sentence that state the record's state, in order, each with whether a
    dominance word ("mostly", "predominantly"...) marks it: not a finding's own words ("sleep spindles"),
    not negated, not a circumstance of a finding named before it in the clause ("spikes during sleep"); a
    stage name with its noun is one word ("REM sleep"). The reading :func:`_read_state` rests on, public
    for the faithfulness check's per-section state test."""
    text = lx.STATE_MASK.sub(lambda m: " " * len(m.group()), read.sentence.text)
    clauses = clause_spans(text)
    cues = [c for c in find_cues(text) if c.kind == "negation"]
    anchors = [(h.start, h.end) for h in read.hits] + read.named_spans
    words: list[tuple[int, int, str]] = []
    for state, regex in lx.STATE_CUES:
        for m in regex.finditer(text):
            if any(h.start <= m.start() and m.end() <= h.end for h in read.hits):
                continue  # a finding's own words ("sleep spindles") state nothing
            clause = clause_of(clauses, m.start())
            if any(in_scope(text, c, m.span(), clause) for c in cues):
                continue
            circumstance = lx.WEAK_STATE.search(text[clause[0] : m.start()]) and any(
                clause[0] <= a and b <= m.start() for a, b in anchors
            )
            if not circumstance:
                words.append((m.start(), m.end(), state))
    words = _join_stage_nouns(text, words)
    # "mostly drowsy, briefly awake": the dominance word marks the state word nearest to it.
    marked: set[tuple[int, int, str]] = set()
    for d in lx.DOMINANT.finditer(text):
        clause = clause_of(clauses, d.start())
        near = [w for w in words if clause[0] <= w[0] < clause[1]]
        if near:
            marked.add(min(near, key=lambda w: min(abs(w[0] - d.end()), abs(d.start() - w[1]))))
    return [(w[2], w in marked) for w in sorted(words)]


def _read_state(reads: list[SentenceRead]) -> str:
    """The state the record is mostly in.

    Rule: the state word nearest "predominantly/mostly/predominated/throughout/remained/for most of" in its
    clause wins; a stage so marked beats plain "sleep" so marked ("asleep throughout, mostly in REM" -> REM),
    and a stage name with its noun is one state word ("REM sleep predominated").
    Otherwise a record that states wakefulness (or has a PDR, which is defined in wakefulness) is
    ``awake``: routine EEGs are mostly awake even when they reach sleep ("awake and asleep" -> awake). One
    that states only sleep is in the sleep stage named: N2 when several are (N2 fills most of a normal
    night) or when only spindles, K-complexes or plain "asleep" say so. Drowsiness alone -> ``drowsy``.
    A state word that is only a circumstance of a finding named before it in the clause ("spikes during
    sleep", "activated in sleep"), or part of a finding's name ("sleep spindles"), does not state the
    record's state. Nothing stated -> ``awake``.
    """
    seen: list[str] = []
    dominant: list[str] = []
    for read in reads:
        for state, marked in state_words(read):
            (dominant if marked else seen).append(state)
        for h in read.hits:
            if h.negated or h.note:
                continue
            if h.code in ("sleep_spindles", "k_complexes"):
                seen.append("n2")
            elif h.code == "pdr":
                seen.append("awake")
    if dominant:
        stages = [s for s in dominant if s != "sleep"]
        return stages[0] if stages else _sleep_stage(seen + dominant)
    if "awake" in seen:
        return "awake"
    if any(s in seen for s in ("n1", "n2", "n3", "rem", "sleep")):
        return _sleep_stage(seen)
    return "drowsy" if "drowsy" in seen else "awake"


def _join_stage_nouns(text: str, words: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A sleep stage and the "sleep" right after it are one state word ("REM sleep", "light (N1) sleep"), so
    that a dominance word next to the noun marks the stage, not plain sleep."""
    out: list[tuple[int, int, str]] = []
    for w in sorted(words):
        last = out[-1] if out else None
        if last and w[2] == "sleep" and last[2] in _STAGES and re.fullmatch(r"[\s)]*", text[last[1] : w[0]]):
            out[-1] = (last[0], w[1], last[2])
        else:
            out.append(w)
    return out


def _sleep_stage(seen: list[str]) -> str:
    for stage in ("n2", "n3", "rem", "n1"):
        if stage in seen:
            return stage
    return "n2"


def _stated_impression(reads: list[SentenceRead]) -> str | None:
    """``normal``/``abnormal`` as the report states it: IMPRESSION sections first, then any other read
    section; "abnormal" anywhere in the first section kind that speaks wins over "normal"."""
    for kinds in (("impression",), ("description", "other")):
        statements = set()
        for read in reads:
            if read.sentence.section.kind not in kinds:
                continue
            if lx.ABNORMAL_STATEMENT.search(read.masked):
                statements.add("abnormal")
            elif lx.NORMAL_STATEMENT.search(read.masked) or (
                kinds == ("impression",) and lx.NO_ABNORMALITY.search(read.masked)
            ):
                statements.add("normal")
        if statements:
            return "abnormal" if "abnormal" in statements else "normal"
    return None
