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

Ambiguities are settled by rules documented where they are applied (``_resolve``, ``_read_state``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from neuronarrator.clinical import lexicon as lx
from neuronarrator.clinical.findings import (
    ARTIFACT_CODES,
    CERTAINTY_PROBABILITY,
    CODES,
    FREQUENCY_RANGE_HZ,
    GENERALIZED_CODES,
    LATERALIZED_CODES,
    REGIONS,
    SIDES,
    Finding,
    Findings,
    derive_impression,
)
from neuronarrator.clinical.location import (
    Frequency,
    Location,
    combine_sides,
    find_frequencies,
    find_tokens,
    group_phrases,
    merge_locations,
)
from neuronarrator.clinical.text import (
    FINDING_SECTIONS,
    Cue,
    Section,
    Sentence,
    clause_of,
    clause_spans,
    find_cues,
    in_scope,
    split_sections,
    split_sentences,
)
from neuronarrator.io.channels import CANONICAL_19

log = logging.getLogger(__name__)

#: Codes that keep the side and regions the text gives them (the others are located by definition).
LOCATED_CODES = LATERALIZED_CODES | GENERALIZED_CODES | ARTIFACT_CODES | {"seizure"}
#: Codes that take a frequency written next to them.
FREQUENCY_CODES = frozenset({"pdr", "generalized_spike_wave", "lpd", "gpd", "lrda", "grda", "excess_beta"})
_CERTAINTIES = ("possible", "probable", "definite")

# Words that may stand between a location phrase and the finding it modifies ("left temporal intermittent
# rhythmic 1-2 Hz delta"): the phrase then belongs to the finding after it, not the one before.
_MODIFIER_GAP = re.compile(
    r"^(?:[\s,/()-]|\d+(?:\.\d+)?|\b(?:and|or|to|of|a|an|the|\w+ly|hz|intermittent|occasional|frequent|rare|"
    r"rhythmic|polymorphic|sporadic|isolated|independent|periodic|low|high|medium|amplitude|voltage|mild|"
    r"moderate|severe|marked|prominent|persistent|continuous|focal|regional|sharp|slow|theta|delta|range|"
    r"irregular|semi-rhythmic|brief|runs?|bursts?|trains?|small|single|multiple|some|few|very|monomorphic|"
    r"arrhythmic|mixed|localized|lateralized|synchronous|asynchronous|maximal|maximum|predominant|"
    r"well-defined|poorly|formed|quasi|blunted|broad|biphasic|surface|negative|positive|electrographic|"
    r"subclinical)\b)*$",
    re.I,
)


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


@dataclass
class _Hit:
    pattern: lx.Pattern
    start: int
    end: int
    negated: bool = False
    certainty: str = "definite"
    focal: bool = False
    note: str = ""
    phrases: list[Location] = field(default_factory=list)
    code: str | None = None
    side: str | None = None
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    frequency_hz: float | None = None
    regions_stated: bool = False


@dataclass
class _Read:
    sentence: Sentence
    masked: str
    clauses: list[tuple[int, int]]
    hits: list[_Hit]
    leftover: list[Location]
    frequencies: list[Frequency]


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
    reads: list[_Read] = []
    unmapped: list[str] = []
    warnings: list[str] = []
    for section in sections:
        if section.kind not in FINDING_SECTIONS:
            continue
        section_reads: list[_Read] = []
        for sentence in split_sentences(text, section):
            previous_pdr = bool(section_reads) and any(h.pattern.concept == "pdr" for h in section_reads[-1].hits)
            read, names = _read_sentence(sentence, previous_pdr)
            section_reads.append(read)
            unmapped.extend(names)
        _carry_locations(section_reads)
        for i, read in enumerate(section_reads):
            following = section_reads[i + 1] if i + 1 < len(section_reads) else None
            for hit in read.hits:
                _resolve(hit, read)
                _assign_frequency(hit, read, following)
        reads.extend(section_reads)
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


# --- one sentence ---------------------------------------------------------------------------------------
def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _mask(text: str) -> tuple[str, list[str]]:
    names: list[str] = []
    for regex, name in lx.MASKS:
        for m in regex.finditer(text):
            text = _blank(text, m.start(), m.end())
            if name:
                names.append(name)
    return text, names


def _read_sentence(sentence: Sentence, previous_pdr: bool) -> tuple[_Read, list[str]]:
    masked, names = _mask(sentence.text)
    clauses = clause_spans(masked)
    hits: list[_Hit] = []
    claimed: list[tuple[int, int]] = []
    for pattern in lx.PATTERNS:
        for m in pattern.regex.finditer(masked):
            s, e = m.span()
            if e <= s or any(s < ce and cs < e for cs, ce in claimed):
                continue
            if pattern.needs and not _has_context(pattern.needs, masked, s, clause_of(clauses, s), hits, previous_pdr):
                continue
            claimed.append((s, e))
            hits.append(_Hit(pattern, s, e))
    hits.sort(key=lambda h: h.start)
    cues = find_cues(masked)
    for h in hits:
        clause = clause_of(clauses, h.start)
        span = (h.start, h.end)
        scoped = [c for c in cues if in_scope(masked, c, span, clause)]
        h.negated = h.pattern.negative or any(c.kind == "negation" for c in scoped)
        kinds = {c.kind for c in scoped}
        h.certainty = "possible" if "possible" in kinds else "probable" if "probable" in kinds else "definite"
        before = " ".join(masked[clause[0] : h.start].split()[-3:])
        h.focal = bool(lx.FOCAL_WORD.search(masked[h.start : h.end]) or lx.FOCAL_WORD.search(before))
        h.note = _dismissal(h, masked, clause)
    phrases = group_phrases(masked, find_tokens(masked, claimed), claimed)
    leftover = _assign_phrases(phrases, hits, clauses, masked)
    noise = [(h.start, h.end) for h in hits if h.pattern.concept == "line_noise"]
    return _Read(sentence, masked, clauses, hits, leftover, find_frequencies(masked, noise)), names


def _has_context(
    need: str, masked: str, start: int, clause: tuple[int, int], hits: list[_Hit], previous_pdr: bool
) -> bool:
    if need == "pdr":  # bare "reactive": the PDR is this sentence's or the previous one's subject
        return previous_pdr or any(h.pattern.concept == "pdr" for h in hits)
    if need == "eeg":  # "encephalopathy" as a reading of the tracing, not the patient's diagnosis
        before = masked[clause[0] : start]
        return bool(lx.CONTEXTS["eeg"].search(masked[clause[0] : clause[1]])) and not lx.CLINICAL_ENCEPHALOPATHY.search(
            before
        )
    return bool(lx.CONTEXTS[need].search(masked))


def _dismissal(h: _Hit, masked: str, clause: tuple[int, int]) -> str:
    """Why a matched mention is not a finding although it is not negated ("" if it is one)."""
    concept = h.pattern.concept
    if concept not in ARTIFACT_CODES:
        for regex, why in ((lx.ARTIFACT_ATTRIBUTION, "attributed to artifact"), (lx.NORMAL_ATTRIBUTION, "called normal")):
            for m in regex.finditer(masked, h.end, clause[1]):
                if in_scope(masked, Cue(m.start(), m.end(), "post", "dismiss"), (h.start, h.end), clause):
                    return why
    if concept == "seizure" and lx.NO_EEG_CORRELATE.search(masked):
        return "clinical event without an EEG correlate"
    if concept == "asymmetry" and lx.ASYMMETRY_EXCUSE.search(masked[clause[0] : clause[1]]):
        return "asymmetry explained by a skull defect or by eye opening"
    return ""


def _assign_phrases(
    phrases: list[Location], hits: list[_Hit], clauses: list[tuple[int, int]], masked: str
) -> list[Location]:
    """Give each location phrase to the finding it modifies; return the phrases no finding took.

    A phrase followed by its finding with only modifiers between ("left temporal intermittent slowing")
    belongs to that finding; otherwise to the nearest finding before it in the clause ("sharp waves over
    the left temporal region, maximal at T3"), else to the next one in the clause.
    """
    leftover = []
    for ph in phrases:
        clause = clause_of(clauses, ph.start)
        inside = [h for h in hits if clause[0] <= h.start < clause[1]]
        nxt = next((h for h in inside if h.start >= ph.end), None)
        prev = next((h for h in reversed(inside) if h.end <= ph.start), None)
        if nxt is not None and _MODIFIER_GAP.match(masked[ph.end : nxt.start]):
            nxt.phrases.append(ph)
        elif prev is not None:
            prev.phrases.append(ph)
        elif nxt is not None:
            nxt.phrases.append(ph)
        else:
            leftover.append(ph)
    return leftover


def _carry_locations(reads: list[_Read]) -> None:
    """A located concept with no location takes one from its sentence's unclaimed phrases, or from the next
    sentence when that sentence only locates ("Sharp waves are seen. They are maximal at T4.")."""
    for i, read in enumerate(reads):
        for h in read.hits:
            if h.phrases or h.pattern.concept not in lx.LOCATED_CONCEPTS | {"seizure"}:
                continue
            if read.leftover:
                h.phrases.append(min(read.leftover, key=lambda p: abs(p.start - h.start)))
            elif i + 1 < len(reads) and not reads[i + 1].hits and reads[i + 1].leftover:
                h.phrases.extend(reads[i + 1].leftover)


# --- from concept to code -------------------------------------------------------------------------------
def _resolve(h: _Hit, read: _Read) -> None:
    """Code, side, regions and channels of a hit.

    Rules where reports are ambiguous:

    - slowing: "diffuse/generalized/global" -> generalized; a left/right/midline side, or bilateral with a
      region ("bitemporal") or "independent" -> focal; a region with no side ("frontal slowing") -> focal,
      bilateral; "bilateral slowing" with nothing else -> generalized; no location -> generalized, unless
      the text calls it focal ("focal slowing"), which then needs a side.
    - rhythmic delta / periodic discharges / spike-and-wave: lateralized (left, right, midline,
      bilateral independent) -> LRDA / LPD / focal epileptiform; otherwise GRDA / GPD / generalized
      spike-wave (FIRDA and OIRDA are GRDA with their region; TIRDA is LRDA; triphasic waves are GPDs).
    - spikes, sharp waves, "epileptiform discharges": generalized -> generalized spike-wave, any side ->
      focal epileptiform; with no side at all they cannot be a finding (the schema needs one).
    - asymmetry: the side is the *lower* side ("higher on the right" -> left).
    - generalized codes carry no side (the code says it); their regions are kept when the text gives them.
    """
    concept, kind = h.pattern.concept, h.pattern.kind
    loc = merge_locations(h.phrases)
    side = h.pattern.side or (loc.side if loc else None)
    regions = tuple(dict.fromkeys(h.pattern.regions + (loc.regions if loc else ())))
    channels = loc.channels if loc else ()
    general = bool(loc and loc.generalized_word)
    independent = bool(loc and loc.independent) or h.pattern.side == "bilateral"
    lateral = side in ("left", "right", "midline") or (side == "bilateral" and independent)
    code = concept
    if concept == "slowing":
        if general and not h.focal:
            code = "generalized_slowing"
        elif lateral or (side == "bilateral" and regions):
            code = "focal_slowing"
        elif regions:
            code, side = "focal_slowing", "bilateral"
        else:
            code = "focal_slowing" if h.focal else "generalized_slowing"
    elif concept in ("rhythmic_delta", "periodic", "spike_wave"):
        focal_code, general_code = {
            "rhythmic_delta": ("lrda", "grda"),
            "periodic": ("lpd", "gpd"),
            "spike_wave": ("focal_epileptiform", "generalized_spike_wave"),
        }[concept]
        if kind == "lateralized":
            code = focal_code
        elif kind == "generalized" or general:
            code = general_code
        else:
            code = focal_code if lateral else general_code
    elif concept == "epileptiform":
        if general and side in (None, "generalized"):
            code = "generalized_spike_wave"
        else:
            code = "focal_epileptiform"
            if side is None and regions:
                side = "bilateral"
    elif concept == "asymmetry":
        side = _lower_side(read.masked, read.clauses, h)
    if code in GENERALIZED_CODES:
        side = None
        if code == "generalized_slowing" and lx.PHYSIOLOGIC_SLOWING.search(_clause_text(read, h)) and not h.note:
            h.note = "slowing of drowsiness, sleep or hyperventilation"
    elif code == "seizure" or code in ARTIFACT_CODES or code in LATERALIZED_CODES:
        if side == "generalized" and code in LATERALIZED_CODES:
            side = None
    else:
        side, regions, channels = None, (), ()
    if code in LATERALIZED_CODES and side is None and not h.note:
        h.note = "no side given"
    h.code, h.side = code, side
    h.regions_stated = bool(h.pattern.regions) or bool(loc and loc.regions_stated)
    h.regions = tuple(r for r in REGIONS if r in regions)
    h.channels = tuple(c for c in CANONICAL_19 if c in channels)


def _clause_text(read: _Read, h: _Hit) -> str:
    a, b = clause_of(read.clauses, h.start)
    return read.masked[a:b]


def _lower_side(masked: str, clauses: list[tuple[int, int]], h: _Hit) -> str | None:
    """The lower-amplitude side of an asymmetry, from comparisons and lowering/raising words near a side."""
    a, b = clause_of(clauses, h.start)
    text = masked[a:b]
    side_of = {"left": "left", "l": "left", "right": "right", "r": "right"}
    m = lx.ASYM_GREATER.search(text)
    if m:
        return side_of[m.group(2).lower()]
    m = lx.ASYM_LESS.search(text)
    if m:
        return side_of[m.group(1).lower()]
    for sm in re.finditer(r"\b(left|right)\b", text, re.I):
        window = text[max(0, sm.start() - 45) : sm.end() + 30]
        if lx.LOWER_WORDS.search(window):
            return sm.group(1).lower()
        if lx.HIGHER_WORDS.search(window):
            return "right" if sm.group(1).lower() == "left" else "left"
    loc = merge_locations(h.phrases)
    return loc.side if loc and loc.side in ("left", "right") else None


def _assign_frequency(h: _Hit, read: _Read, following: _Read | None) -> None:
    """The frequency written nearest the finding in its clause, in the code's plausible range, with no other
    finding between; a PDR may also take one from its sentence or the next ("It is 9 Hz and reactive.")."""
    if h.code not in FREQUENCY_CODES:
        return
    low, high = FREQUENCY_RANGE_HZ.get(h.code, (0.1, 100.0))
    clause = clause_of(read.clauses, h.start)

    def between_other(f: Frequency) -> bool:
        lo, hi = min(f.end, h.end), max(f.start, h.start)
        return any(o is not h and o.start >= lo and o.end <= hi for o in read.hits)

    def distance(f: Frequency) -> int:
        return 0 if f.start < h.end and h.start < f.end else min(abs(f.start - h.end), abs(h.start - f.end))

    near = [f for f in read.frequencies if clause[0] <= f.start < clause[1] and low <= f.hz <= high]
    near = [f for f in near if not between_other(f)]
    if near:
        h.frequency_hz = min(near, key=distance).hz
        return
    if h.code != "pdr":
        return
    candidates = [f for f in read.frequencies if low <= f.hz <= high]
    if not candidates and following is not None and not any(o.pattern.concept == "pdr" for o in following.hits):
        candidates = [f for f in following.frequencies if low <= f.hz <= high]
    if candidates:
        h.frequency_hz = candidates[0].hz


def _mention(h: _Hit, read: _Read) -> Mention:
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
def _merge(mentions: list[Mention], warnings: list[str]) -> tuple[list[Finding], list[tuple[tuple[int, int], ...]]]:
    """Mentions of one finding become one: same code (and, for lateralized codes and seizures, same side).

    The highest certainty wins (the description's "sharp waves" beat the impression's "possible"); regions
    and channels are united; the first frequency written is kept. A seizure with no side joins a located
    one. A PDR without a frequency, or reactivity without a PDR, cannot be a finding and is reported.
    """
    groups: dict[tuple[str, str | None], list[Mention]] = {}
    for m in mentions:
        if not m.asserted:
            if m.note == "no side given" and not m.negated:
                warnings.append(f"{m.code} at {m.span} has no side; not listed")
            continue
        per_side = m.code in LATERALIZED_CODES or m.code == "seizure"
        groups.setdefault((m.code, m.side if per_side else None), []).append(m)
    for (code, side), group in list(groups.items()):
        located = [k for k in groups if k[0] == code and k[1] is not None]
        if code == "seizure" and side is None and located:
            groups[located[0]].extend(group)
            del groups[(code, side)]
    findings: list[tuple[Finding, tuple[tuple[int, int], ...]]] = []
    for (code, side), group in groups.items():
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


def _read_state(reads: list[_Read]) -> str:
    """The state the record is mostly in.

    Rule: a state word with "predominantly/mostly/throughout/only/remained" in its clause wins. Otherwise a
    record that mentions wakefulness is ``awake`` (routine EEGs are mostly awake even when they reach
    sleep: "awake and asleep" -> awake); one that only mentions sleep is in the sleep stage named, N2 when
    several are (N2 fills most of a normal night) or when only spindles/K-complexes or plain "sleep" say
    so; drowsiness alone -> ``drowsy``; nothing -> ``awake``.
    """
    seen: list[str] = []
    dominant: list[str] = []
    for read in reads:
        text = lx.STATE_MASK.sub(lambda m: " " * len(m.group()), read.sentence.text)
        clauses = clause_spans(text)
        cues = [c for c in find_cues(text) if c.kind == "negation"]
        for state, regex in lx.STATE_CUES:
            for m in regex.finditer(text):
                clause = clause_of(clauses, m.start())
                if any(in_scope(text, c, m.span(), clause) for c in cues):
                    continue
                seen.append(state)
                if lx.DOMINANT.search(text[clause[0] : clause[1]]):
                    dominant.append(state)
        if any(h.code in ("sleep_spindles", "k_complexes") and not (h.negated or h.note) for h in read.hits):
            seen.append("n2")
    if dominant:
        return dominant[0] if dominant[0] != "sleep" else _sleep_stage(seen)
    if "awake" in seen:
        return "awake"
    if any(s in seen for s in ("n1", "n2", "n3", "rem", "sleep")):
        return _sleep_stage(seen)
    return "drowsy" if "drowsy" in seen else "awake"


def _sleep_stage(seen: list[str]) -> str:
    for stage in ("n2", "n3", "rem", "n1"):
        if stage in seen:
            return stage
    return "n2"


def _stated_impression(reads: list[_Read]) -> str | None:
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
