"""Reading one section of a report into finding mentions: words, scope, location, frequency.

This is the sentence-level half of the labeler (``label.py`` holds the public API and the report-level
merge, state and impression). For each sentence: mask the words that look like findings but are not
(``lexicon.MASKS``), let each pattern claim its words in priority order (``lexicon.PATTERNS``), decide
negation and certainty from the cues in scope (``text``), give each location phrase to the finding it
modifies (``location``), then resolve location-dependent concepts ("slowing", "periodic discharges") to
codes and attach the frequency written next to each finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from neuronarrator.clinical import lexicon as lx
from neuronarrator.clinical.findings import (
    ARTIFACT_CODES,
    FREQUENCY_RANGE_HZ,
    GENERALIZED_CODES,
    LATERALIZED_CODES,
    REGIONS,
)
from neuronarrator.clinical.location import (
    Frequency,
    Location,
    find_frequencies,
    find_tokens,
    group_phrases,
    merge_locations,
)
from neuronarrator.clinical.text import (
    Section,
    Sentence,
    clause_of,
    clause_spans,
    find_cues,
    in_scope,
    split_sentences,
)
from neuronarrator.io.channels import CANONICAL_19

#: Codes that take a frequency written next to them.
FREQUENCY_CODES = frozenset({"pdr", "generalized_spike_wave", "lpd", "gpd", "lrda", "grda", "excess_beta"})

# Words that may stand between a location phrase and the finding it modifies ("left temporal intermittent
# rhythmic 1-2 Hz delta"): the phrase then belongs to the finding after it, not the one before.
_MODIFIER_GAP = re.compile(
    r"^(?:[\s,/()-]|(?>\d+(?:\.\d+)?)|\b(?:and|or|to|of|a|an|the|\w+ly|hz|intermittent|occasional|frequent|rare|"
    r"rhythmic|polymorphic|sporadic|isolated|independent|periodic|low|high|medium|amplitude|voltage|mild|"
    r"moderate|severe|marked|prominent|persistent|continuous|focal|regional|sharp|slow|theta|delta|range|"
    r"irregular|semi-rhythmic|brief|runs?|bursts?|trains?|small|single|multiple|some|few|very|monomorphic|"
    r"arrhythmic|mixed|localized|lateralized|synchronous|asynchronous|maximal|maximum|predominant|"
    r"well-defined|poorly|formed|quasi|blunted|broad|biphasic|surface|negative|positive|electrographic|"
    r"subclinical|hemispheric|hemisphere|sided|side|onset)\b)*$",
    re.I,
)


@dataclass
class Hit:
    """One pattern match in a sentence and what the labeler decided about it (offsets in the sentence)."""

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
class SentenceRead:
    """One sentence after reading: its masked text, clauses, hits, unclaimed locations and frequencies."""

    sentence: Sentence
    masked: str
    clauses: list[tuple[int, int]]
    hits: list[Hit]
    leftover: list[Location]
    frequencies: list[Frequency]
    named_spans: list[tuple[int, int]]  # masked terms outside the vocabulary (normal variants, ...)


def read_section(text: str, section: Section) -> tuple[list[SentenceRead], list[str]]:
    """Every sentence of one section read into resolved hits; also the out-of-vocabulary terms it names."""
    reads: list[SentenceRead] = []
    names: list[str] = []
    for sentence in split_sentences(text, section):
        previous_pdr = bool(reads) and any(h.pattern.concept == "pdr" for h in reads[-1].hits)
        read, found = _read_sentence(sentence, previous_pdr)
        reads.append(read)
        names.extend(found)
    _carry_locations(reads)
    for i, read in enumerate(reads):
        following = reads[i + 1] if i + 1 < len(reads) else None
        for hit in read.hits:
            _resolve(hit, read)
            _assign_frequency(hit, read, following)
    return reads, names


# --- one sentence ---------------------------------------------------------------------------------------
def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _mask(text: str) -> tuple[str, list[str], list[tuple[int, int]]]:
    names: list[str] = []
    spans: list[tuple[int, int]] = []
    for regex, name in lx.MASKS:
        for m in regex.finditer(text):
            text = _blank(text, m.start(), m.end())
            if name:
                names.append(name)
                spans.append(m.span())
    return text, names, spans


def _read_sentence(sentence: Sentence, previous_pdr: bool) -> tuple[SentenceRead, list[str]]:
    masked, names, named_spans = _mask(sentence.text)
    clauses = clause_spans(masked)
    hits: list[Hit] = []
    claimed: list[tuple[int, int]] = []
    for pattern in lx.PATTERNS:
        for m in pattern.regex.finditer(masked):
            s, e = m.span()
            if e <= s or any(s < ce and cs < e for cs, ce in claimed):
                continue
            if pattern.needs and not _has_context(
                pattern.needs, masked, s, clause_of(clauses, s), hits, previous_pdr
            ):
                continue
            claimed.append((s, e))
            hits.append(Hit(pattern, s, e))
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
        h.note = _dismissal(h, hits, masked, clause)
    phrases = group_phrases(masked, find_tokens(masked, claimed), claimed)
    leftover = _assign_phrases(phrases, hits, clauses, masked)
    _support_named_seizure(hits, clauses)
    noise = [(h.start, h.end) for h in hits if h.pattern.concept == "line_noise"]
    freqs = find_frequencies(masked, noise)
    return SentenceRead(sentence, masked, clauses, hits, leftover, freqs, named_spans), names


def _support_named_seizure(hits: list[Hit], clauses: list[tuple[int, int]]) -> None:
    """Words that describe a seizure are not findings of their own.

    "Rhythmic theta ... evolves ..., most consistent with an electrographic seizure": the evolution describes
    the seizure the sentence names (whose hedge is the report's), so it gives its location to that seizure.
    Spikes, rhythmic delta or periodic discharges in a clause that describes an evolution ("evolving into
    rhythmic spikes over the left frontocentral region") are the seizure's own course, not interictal
    findings. Alpha activity in a clause that states a seizure ("a seizure ..., beginning as rhythmic 9 Hz
    alpha activity") is the ictal rhythm, not the posterior dominant rhythm.
    """
    asserted = [h for h in hits if h.pattern.concept == "seizure" and not h.negated]
    evolving = [h for h in asserted if h.pattern.needs == "rhythmic"]
    named = [h for h in asserted if h.pattern.needs is None]
    seizure = named[0] if named else evolving[0] if evolving else None
    if seizure is None:
        return
    ictal = {"epileptiform", "spike_wave", "rhythmic_delta", "periodic"}
    for h in hits:
        clause = clause_of(clauses, h.start)
        if h.pattern.concept == "pdr" and any(clause_of(clauses, s.start) == clause for s in asserted):
            h.note = h.note or "the rhythm of a seizure"
        if (h.pattern.concept in ictal or h.pattern.kind == "lateral_only") and any(
            clause_of(clauses, e.start) == clause_of(clauses, h.start) for e in evolving
        ):
            h.note = h.note or "part of a seizure's evolution"
            if not seizure.phrases:
                seizure.phrases, h.phrases = h.phrases, []
    for h in evolving:
        if named:
            h.note = h.note or "describes the seizure the sentence names"
            h.phrases, seizure.phrases = [], seizure.phrases + h.phrases


def _has_context(
    need: str, masked: str, start: int, clause: tuple[int, int], hits: list[Hit], previous_pdr: bool
) -> bool:
    if need == "pdr":  # bare "reactive": the PDR is this sentence's or the previous one's subject
        return previous_pdr or any(h.pattern.concept == "pdr" for h in hits)
    if need == "eeg":  # "encephalopathy" as a reading of the tracing, not the patient's diagnosis
        before = masked[clause[0] : start]
        return bool(
            lx.CONTEXTS["eeg"].search(masked[clause[0] : clause[1]])
        ) and not lx.CLINICAL_ENCEPHALOPATHY.search(before)
    return bool(lx.CONTEXTS[need].search(masked))


def _dismissal(h: Hit, hits: list[Hit], masked: str, clause: tuple[int, int]) -> str:
    """Why a matched mention is not a finding although it is not negated ("" if it is one).

    An attribution ("... are artifactual", "..., a normal variant") later in the clause dismisses the
    nearest finding before it and those listed with it: no other kind of finding may stand between.
    """
    concept = h.pattern.concept
    if concept not in ARTIFACT_CODES:
        for regex, why in (
            (lx.ARTIFACT_ATTRIBUTION, "attributed to artifact"),
            (lx.NORMAL_ATTRIBUTION, "called normal"),
        ):
            for m in regex.finditer(masked, h.end, clause[1]):
                between = [o for o in hits if h.end <= o.start and o.end <= m.start()]
                if all(o.pattern.concept == concept for o in between):
                    return why
    if concept == "seizure" and lx.NO_EEG_CORRELATE.search(masked):
        return "clinical event without an EEG correlate"
    if concept == "asymmetry" and lx.ASYMMETRY_EXCUSE.search(masked[clause[0] : clause[1]]):
        return "asymmetry explained by a skull defect or by eye opening"
    return ""


def _assign_phrases(
    phrases: list[Location], hits: list[Hit], clauses: list[tuple[int, int]], masked: str
) -> list[Location]:
    """Give each location phrase to the finding it modifies; return the phrases no finding took.

    A phrase followed by its finding with only modifiers between ("left temporal intermittent slowing")
    belongs to that finding; otherwise to the nearest finding before it in the clause ("sharp waves over
    the left temporal region, maximal at T3"), else to the next one in the clause.
    """
    leftover = []
    topics: list[tuple[Location, list[Hit]]] = []
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
            topics.append((ph, inside))
        else:
            leftover.append(ph)
    # A phrase that opens its clause before any finding ("Over the left hemisphere, there are...", "The right
    # hemisphere shows ...") is the clause's topic: every finding of the clause without a place of its own
    # takes it (at least the first one does).
    for ph, inside in topics:
        bare = [h for h in inside if not h.phrases]
        for h in bare or inside[:1]:
            h.phrases.append(ph)
    return leftover


def _carry_locations(reads: list[SentenceRead]) -> None:
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
def _resolve(h: Hit, read: SentenceRead) -> None:
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
    if kind == "lateral_only" and not (lateral or (side == "bilateral" and regions)) and not h.note:
        h.note = "theta/delta activity without a lateral location is not called slowing"
    if code in GENERALIZED_CODES:
        side = None
        if (
            code == "generalized_slowing"
            and lx.PHYSIOLOGIC_SLOWING.search(_clause_text(read, h))
            and not lx.ABNORMAL_STATEMENT.search(_clause_text(read, h))
            and not h.note
        ):
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


def _clause_text(read: SentenceRead, h: Hit) -> str:
    a, b = clause_of(read.clauses, h.start)
    return read.masked[a:b]


def _lower_side(masked: str, clauses: list[tuple[int, int]], h: Hit) -> str | None:
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


def _assign_frequency(h: Hit, read: SentenceRead, following: SentenceRead | None) -> None:
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
    if (
        not candidates
        and following is not None
        and not any(o.pattern.concept == "pdr" for o in following.hits)
    ):
        candidates = [f for f in following.frequencies if low <= f.hz <= high]
    if candidates:
        h.frequency_hz = candidates[0].hz
