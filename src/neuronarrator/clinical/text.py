"""How an EEG report is laid out, read as text: sections, sentences, clauses, and the scope of a negation
or a hedge.

Clinical EEG reports (ACNS Guideline 7, TUH EEG corpus reports) are written in headed sections:
CLINICAL HISTORY and MEDICATIONS say why the study was done, DESCRIPTION OF THE RECORD says what the
tracing shows, IMPRESSION sums it up, CLINICAL CORRELATION interprets it. Only some sections describe the
EEG: "history of seizures" under CLINICAL HISTORY is not a seizure on the tracing. The functions here are
pure string work with offsets into the original text, so that every finding can point back to the
sentence that produced it.

Negation and hedge scope follow NegEx (Chapman et al., J Biomed Inform 2001): a cue word opens a scope that
runs forward (pre-cues: "no", "without", "possible") or backward (post-cues: "were not seen", "cannot be
excluded") within the clause, and the scope stops at a clause boundary ("but", "however", ";") or at a
finite verb that starts a new statement ("No spikes were seen, and the PDR is 9 Hz").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- sections -------------------------------------------------------------------------------------------
#: Section kinds. Findings are read from ``description``, ``impression`` and ``other`` sections only.
FINDING_SECTIONS = frozenset({"description", "impression", "other"})

#: Known headings (lower case, single spaces) -> section kind.
HEADINGS: dict[str, str] = {
    **dict.fromkeys(
        ["clinical history", "history", "history of present illness", "hpi", "past medical history",
         "clinical information", "clinical indication", "clinical data", "patient history", "medications",
         "medication", "meds", "current medications", "indication", "indications", "reason for study",
         "reason for referral", "reason for eeg", "reason for exam", "reason for examination", "diagnosis",
         "referring diagnosis", "allergies", "referring physician", "requesting physician", "patient",
         "date of study", "date", "age", "sex"],
        "history"),
    **dict.fromkeys(
        ["description of the record", "description of record", "description", "findings", "eeg findings",
         "background", "background activity", "abnormal discharges", "epileptiform discharges",
         "epileptiform activity", "seizures", "events", "sleep", "activation procedures", "activation",
         "hyperventilation", "photic stimulation", "intermittent photic stimulation", "hr", "heart rate",
         "ekg", "ecg", "technical difficulties", "technical", "technique", "introduction",
         "condition of the recording", "recording conditions", "artifacts", "artifact", "state",
         "behavioral state", "interictal findings", "ictal findings", "waking", "wakefulness"],
        "description"),
    **dict.fromkeys(
        ["impression", "impressions", "eeg impression", "interpretation", "conclusion", "conclusions",
         "summary", "summary of findings", "diagnostic impression", "eeg interpretation"],
        "impression"),
    **dict.fromkeys(
        ["clinical correlation", "correlation", "clinical interpretation", "comment", "comments",
         "recommendation", "recommendations", "clinical significance"],
        "correlation"),
}  # fmt: skip

_LINE_HEADING = re.compile(r"(?m)^[ \t]*(?P<h>[A-Za-z][A-Za-z /&'-]{0,48}?)[ \t]*:(?!\d)")
_INLINE_HEADING = re.compile(r"(?<=[.!?])[ \t]+(?P<h>[A-Z][A-Z /&]{1,48}?)[ \t]*:(?!\d)")
_BARE_HEADING = re.compile(r"(?m)^[ \t]*(?P<h>[A-Za-z][A-Za-z /&-]{1,48}?)[ \t]*$")


@dataclass(frozen=True)
class Section:
    """One section of a report: its kind, heading as written (None for untitled text) and body span."""

    kind: str
    heading: str | None
    start: int
    end: int


def _norm(heading: str) -> str:
    return re.sub(r"\s+", " ", heading.strip().lower())


def split_sections(text: str) -> list[Section]:
    """Split a report into sections at its headings.

    A heading is a known heading (:data:`HEADINGS`, any case) or any ALL-CAPS phrase, at the start of a
    line and followed by a colon ("CLINICAL HISTORY: 54 year old..."), a known ALL-CAPS heading after a
    sentence end on the same line ("... Keppra. INTRODUCTION: ..."), or a known heading alone on its line.
    Text before the first heading is an untitled ``description`` section (one-line reports). An unknown
    ALL-CAPS heading opens an ``other`` section whose body keeps the heading ("PDR: 9 Hz" is a finding).
    """
    cuts: list[tuple[int, int, str, str]] = []  # (heading start, body start, kind, heading)
    for m in _LINE_HEADING.finditer(text):
        h = m.group("h")
        kind = HEADINGS.get(_norm(h))
        if kind is not None:
            cuts.append((m.start("h"), m.end(), kind, h.strip()))
        elif h.isupper() and sum(c.isalpha() for c in h) >= 2:
            cuts.append((m.start("h"), m.start("h"), "other", h.strip()))
    for pattern in (_INLINE_HEADING, _BARE_HEADING):
        for m in pattern.finditer(text):
            kind = HEADINGS.get(_norm(m.group("h")))
            if kind is not None and not any(c[0] <= m.start("h") < max(c[1], c[0] + 1) for c in cuts):
                cuts.append((m.start("h"), m.end(), kind, m.group("h").strip()))
    cuts.sort()
    sections: list[Section] = []
    first = cuts[0][0] if cuts else len(text)
    if text[:first].strip():
        sections.append(Section("description", None, 0, first))
    for i, (_, body, kind, heading) in enumerate(cuts):
        end = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
        sections.append(Section(kind, heading, body, max(body, end)))
    return sections


# --- sentences ------------------------------------------------------------------------------------------
#: Words that end in a period without ending the sentence ("approx. 9 Hz", "e.g. T3").
ABBREVIATIONS = frozenset(
    "approx appr e.g i.e eg ie etc vs dr mr mrs ms st no fig al ca cf resp incl esp viz min sec yrs yr mo mos "
    "y.o pt pts hx".split()
)
_TERMINAL = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
_ENUMERATOR = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)]|\(?[a-h]\))\s+")
_LINE_END_CONTINUES = re.compile(
    r"(?:[,(\-]|\b(?:and|or|of|the|with|at|in|over|to|a|an|by|from|for))\s*$", re.I
)


@dataclass(frozen=True)
class Sentence:
    """A sentence: its text and span in the report, and the section it belongs to."""

    start: int
    end: int
    text: str
    section: Section


def split_sentences(text: str, section: Section) -> list[Sentence]:
    """Sentences of one section body.

    A period ends a sentence when whitespace and a capital, digit or bullet follow and the word before is
    not an abbreviation ("approx.", "e.g."), an initial ("J.", but "lasting 40 s." ends) or a list number
    ("2. Diffuse slowing"); decimals ("9.5 Hz") never split because no space follows the point. A blank line, a line that starts a list item, and a
    line break between a line without end punctuation and a capitalised line also end a sentence (reports
    written as lists). List numbers and bullets are stripped from the sentence start.
    """
    body = text[section.start : section.end]
    cuts = {0, len(body)}
    for m in _TERMINAL.finditer(body):
        rest = body[m.end() :].lstrip()
        if rest and not (rest[0].isupper() or rest[0].isdigit() or rest[0] in "-*•(\"'"):
            continue
        word = re.search(r"(\S+)$", body[: m.start()])
        token = word.group(1).lower().strip("(\"'") if word else ""
        # A single letter is an initial ("Dr. J. Smith"), unless it is a unit after a number ("lasting 40 s.").
        unit = bool(word) and re.search(r"\d\s*$", body[: word.start(1)]) is not None
        initial = len(token) == 1 and token.isalpha() and token not in "lr" and not unit
        if token.rstrip(".") in ABBREVIATIONS or initial:
            continue
        if token.isdigit() and len(token) <= 2 and _starts_sentence(body, word.start(1), cuts):
            continue  # "2." opening a list item
        cuts.add(m.end())
    for m in re.finditer(r"\n", body):
        before = body[: m.start()].rsplit("\n", 1)[-1]
        after = body[m.end() :].split("\n", 1)[0]
        if not before.strip() or not after.strip():
            cuts.add(m.end())
        elif _ENUMERATOR.match(after) or (
            after.lstrip()[:1].isupper() and not _LINE_END_CONTINUES.search(before)
        ):
            cuts.add(m.end())
    out: list[Sentence] = []
    points = sorted(cuts)
    for a, b in zip(points, points[1:], strict=False):
        piece = body[a:b]
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip()
        enum = _ENUMERATOR.match(piece)
        if enum:
            lead += enum.end()
            piece = piece[enum.end() :]
        if not re.search(r"[A-Za-z]", piece):
            continue
        start = section.start + a + lead
        out.append(Sentence(start, start + len(piece), piece, section))
    return out


def _starts_sentence(body: str, pos: int, cuts: set[int]) -> bool:
    prev = max((c for c in cuts if c <= pos), default=0)
    return not body[prev:pos].strip() or bool(re.fullmatch(r"\s*[-*•(]?\s*", body[prev:pos]))


# --- clauses and scope ----------------------------------------------------------------------------------
_CLAUSE_BREAK = re.compile(
    r";|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bwhereas\b|\bexcept\b|\byet\b|\bapart from\b|"
    r"\bother than\b|\baside from\b|\bin addition\b|\badditionally\b|\bmoreover\b|\bfurthermore\b",
    re.I,
)
#: Between a cue and a finding, these end the cue's reach: a finite verb or a new coordinated statement.
_BARRIER = re.compile(
    r"\b(?:is|are|was|were|has|have|had|shows?|showed|shown|demonstrates?|demonstrated|reveals?|revealed|"
    r"contains?|consists?|consisted|appears?|appeared|seen|noted|observed|present|identified|recorded|"
    r"captured|occurr?(?:s|ed|ing)?)\b|\b(?:and|with|while|which)\s+(?:the|a|an|there|this|it|its|they)\b|,\s*which\b",
    re.I,
)

# Hedge cues are found first and blanked out before negation cues are looked for, so that "cannot be
# excluded" and "does not rule out" hedge rather than negate.
#
# "is possible" / "was likely" hedge what came before them only where they close the statement or a
# predicate follows ("Sharp waves are possible.", "Slowing is likely present", "... is likely related to
# drowsiness"). Before a noun phrase the verb is existential or copular and the hedge word modifies what
# follows ("There is possible GRDA", "There was likely left temporal slowing"): the post-cue does not
# apply, so the hedge word is left to the pre-cues.
_PREDICATE_FOLLOWS = (
    r"(?=\s*(?:[.;,:!?)]|$|\b(?:present|seen|noted|observed|identified|recorded|captured|evident|apparent|"
    r"visible|related|due|secondary|attributable|artifactual|but|and|or|although|though|given|if|since|when|"
    r"while|in|on|at|over|during|with|to|from|as|because)\b))"
)
POSSIBLE_PRE = re.compile(
    r"\b(?:possible|possibly|questionable|questionably|equivocal|borderline|uncertain|unclear|suspicious\s+(?:for|of)|"
    r"suspected|suspect|question\s+of|concern(?:ing)?\s+for|(?:cannot|can\s+not|could\s+not)\s+(?:entirely\s+|completely\s+|"
    r"definitively\s+|definitely\s+)?(?:exclude|rule\s+out)|does\s+not\s+(?:exclude|rule\s+out)|"
    r"(?:may|might|could)\s+(?:represent|reflect|indicate|be\s+consistent\s+with))\b",
    re.I,
)
POSSIBLE_POST = re.compile(
    r"\b(?:cannot|can\s+not|could\s+not|can't|couldn't)\s+(?:be\s+)?(?:entirely\s+|completely\s+|definitively\s+|"
    r"definitely\s+)?(?:excluded|ruled\s+out)|\bnot\s+(?:be\s+)?(?:excluded|ruled\s+out)|"
    r"\b(?:is|are|was|were)\s+(?:possible|questionable|uncertain|equivocal|suspected)\b"
    + _PREDICATE_FOLLOWS
    + r"|\bof\s+(?:uncertain|unclear|questionable|undetermined)\s+(?:clinical\s+)?significance\b",
    re.I,
)
PROBABLE_PRE = re.compile(
    r"\b(?:probable|probably|most\s+likely|likely|suggestive\s+of|suggests?|suggesting|most\s+consistent\s+with|"
    r"favou?r(?:s|ed|ing)?)\b",
    re.I,
)
PROBABLE_POST = re.compile(
    r"\b(?:is|are|was|were)\s+(?:most\s+)?(?:likely|probable)\b" + _PREDICATE_FOLLOWS, re.I
)

_VERB = r"(?:show|reveal|demonstrat|contain|includ|hav|display|exhibit|detect|captur|record|identif|see|find|appear)\w*"
NEGATION_PRE = re.compile(
    rf"\b(?:(?:did|does|do|has|have|had|was|were|is|are|could|can|will)\s+)?not\s+{_VERB}\b(?:\s+(?:any|an?))?|"
    rf"\b(?:failed|fails|fail)\s+to\s+{_VERB}\b|"
    r"\bno\b(?!\.\s*\d)(?!\s+(?:significant\s+)?(?:change|increase|longer\s+than))|\bnot\b(?!\s+only\b)|"
    r"\bwithout\b|\babsen(?:ce|t)(?:\s+of)?\b|\bnegative\s+for\b|\bfree\s+of\b|\bdevoid\s+of\b|"
    r"\black(?:s|ed|ing)?\b(?:\s+of\b)?|"
    r"\bnone\s+of\b|\bneither\b|\bnor\b|\bnever\b|\bno\s+evidence\s+of\b|\bno\s+clear\b|\bnon-?existent\b",
    re.I,
)
NEGATION_POST = re.compile(
    r"\b(?:(?:is|are|was|were|be|been)\s+(?:\w+ly\s+|also\s+)?)?(?:not|never|no\s+longer)\s+(?:\w+\s+)?(?:seen|present|observed|identified|"
    r"noted|recorded|captured|demonstrated|appreciated|evident|elicited|detected|found|visualized|apparent|obtained|"
    r"achieved|attained|reached)\b|\b(?:is|are|was|were)\s+absent\b|:\s*(?:none|absent|not\s+(?:seen|present))\b|"
    r"\b(?:were|was)\s+none\b",
    re.I,
)


@dataclass(frozen=True)
class Cue:
    """A negation or hedge cue in a sentence: span, direction (``pre``/``post``) and what it says."""

    start: int
    end: int
    direction: str
    kind: str  # "negation", "possible", "probable"


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """Clause spans of a sentence, cut at ";" and at contrastive or additive connectives ("but", "however")."""
    points = [0] + [m.start() for m in _CLAUSE_BREAK.finditer(sentence)] + [len(sentence)]
    return [(a, b) for a, b in zip(points, points[1:], strict=False) if b > a]


def find_cues(sentence: str) -> list[Cue]:
    """Every hedge and negation cue in a sentence (hedges first; their words cannot also negate)."""
    cues: list[Cue] = []
    blanked = sentence
    for regex, direction, kind in (
        (POSSIBLE_POST, "post", "possible"), (POSSIBLE_PRE, "pre", "possible"),
        (PROBABLE_POST, "post", "probable"), (PROBABLE_PRE, "pre", "probable"),
    ):  # fmt: skip
        for m in regex.finditer(blanked):
            cues.append(Cue(m.start(), m.end(), direction, kind))
            blanked = blanked[: m.start()] + " " * (m.end() - m.start()) + blanked[m.end() :]
    for regex, direction in ((NEGATION_POST, "post"), (NEGATION_PRE, "pre")):
        for m in regex.finditer(blanked):
            cues.append(Cue(m.start(), m.end(), direction, "negation"))
            blanked = blanked[: m.start()] + " " * (m.end() - m.start()) + blanked[m.end() :]
    return sorted(cues, key=lambda c: c.start)


def in_scope(sentence: str, cue: Cue, span: tuple[int, int], clause: tuple[int, int]) -> bool:
    """Whether ``cue`` reaches the words at ``span`` (both inside ``clause``; offsets in ``sentence``)."""
    if not (clause[0] <= cue.start < clause[1]):
        return False
    if cue.direction == "pre":
        if cue.end > span[0]:
            return False
        gap = sentence[cue.end : span[0]]
    else:
        if cue.start < span[1]:
            return False
        gap = sentence[span[1] : cue.start]
    return not _BARRIER.search(gap)


def clause_of(clauses: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    """The clause containing offset ``pos``."""
    return next((c for c in clauses if c[0] <= pos < c[1]), clauses[-1] if clauses else (0, 0))
