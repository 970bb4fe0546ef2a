"""Phrasing as data: the templates :mod:`neuronarrator.clinical.render` fills to write a report.

Every statement a report makes has several phrasings here, so that a model trained on rendered reports
cannot learn one template. Templates are :meth:`str.format` strings; the renderer offers a set of slot
values for each statement and picks, at random, among the templates whose slots it can fill, so a
template that names an electrode (``{el}``) is only used where one electrode names the region without
ambiguity. Slots ending in a space (``{prev}``, ``{bandadj}``, ``{hzadj}``) may be empty.

Wording rules, because the project's labeler reads these texts back into findings:

- a finding's certainty is written only with the hedges of :data:`HEDGES` (``possible``, ``probable``,
  ``likely``, ``cannot be excluded``); no other sentence uses those words or ``may`` next to a finding;
- the side written is the finding's side (for an asymmetry, the lower side); the other side is never
  named in the same statement;
- region words and electrode names used for a finding stay inside the finding's regions;
- generalized slowing is always called diffuse or generalized; focal slowing and lower amplitude always
  name their side, with region words (an electrode only in parentheses); a bilateral finding without a
  region is written as independent over both hemispheres ("bilateral slowing" would read as generalized);
- artifacts and sleep transients are written without any side, region or electrode.

Grammar slots the renderer always fills: ``{is}``/``{are}`` (tense-resolved to is/was, are/were),
``{be}`` (the same, agreeing with the noun phrase), ``{shows}`` (shows/showed).

The tables live in one module per part of the report (:mod:`.locations`, :mod:`.abnormal`,
:mod:`.background`, :mod:`.summary`); this package holds them all, so ``phrases.NAME`` reaches any table.
"""

from __future__ import annotations

from neuronarrator.clinical.phrases.abnormal import (
    CODE_SENTENCES,
    EVOLUTION,
    FRAMES,
    HEDGES,
    NOUN_PHRASES,
    ONSET_BILATERAL,
    ONSET_FOCAL,
    ONSET_GENERALIZED,
    ONSET_HEMISPHERE,
    ONSET_MIDLINE,
    ORDINALS,
    SEIZURE_NOUNS,
    SEIZURE_NOUNS_AGAIN,
    SEIZURE_SENTENCES,
)
from neuronarrator.clinical.phrases.background import (
    ABSENCE,
    ARTIFACT_NOUNS,
    ARTIFACT_SENTENCES,
    PDR_ABSENT,
    PDR_ORGANIZED,
    PDR_QUALITIES,
    PDR_REACT_CLAUSES,
    PDR_REACT_HEDGED,
    PDR_REACT_SENTENCES,
    PDR_SENTENCES,
    STATE_BRIEF,
    STATE_NOUNS,
    STATE_OTHERS,
    STATE_SENTENCES,
    TRANSIENT_NOUNS,
    TRANSIENT_SENTENCES,
)
from neuronarrator.clinical.phrases.locations import (
    ELECTRODES,
    FIELDS,
    REGION_COMPOUNDS,
    WHERE_BILATERAL,
    WHERE_BOTH_HEMISPHERES,
    WHERE_ELECTRODE,
    WHERE_HEMISPHERE,
    WHERE_MIDLINE,
    WHERE_MIDLINE_REGION,
    WHERE_REGION,
)
from neuronarrator.clinical.phrases.summary import (
    CORRELATION,
    IMPRESSION_ABNORMAL_BARE,
    IMPRESSION_MANY,
    IMPRESSION_NORMAL,
    IMPRESSION_NORMAL_WITH_HEDGED,
    IMPRESSION_ONE,
    STATE_ADJ,
    STATE_IN,
    SUBJECTS,
)

__all__ = [
    "REGION_COMPOUNDS",
    "ELECTRODES",
    "WHERE_REGION",
    "WHERE_ELECTRODE",
    "WHERE_HEMISPHERE",
    "WHERE_BILATERAL",
    "WHERE_MIDLINE",
    "WHERE_MIDLINE_REGION",
    "WHERE_BOTH_HEMISPHERES",
    "FIELDS",
    "FRAMES",
    "HEDGES",
    "NOUN_PHRASES",
    "CODE_SENTENCES",
    "SEIZURE_SENTENCES",
    "SEIZURE_NOUNS",
    "SEIZURE_NOUNS_AGAIN",
    "ORDINALS",
    "ONSET_FOCAL",
    "ONSET_HEMISPHERE",
    "ONSET_BILATERAL",
    "ONSET_MIDLINE",
    "ONSET_GENERALIZED",
    "EVOLUTION",
    "PDR_SENTENCES",
    "PDR_QUALITIES",
    "PDR_ORGANIZED",
    "PDR_REACT_CLAUSES",
    "PDR_REACT_SENTENCES",
    "PDR_REACT_HEDGED",
    "PDR_ABSENT",
    "STATE_NOUNS",
    "STATE_SENTENCES",
    "STATE_OTHERS",
    "STATE_BRIEF",
    "TRANSIENT_NOUNS",
    "TRANSIENT_SENTENCES",
    "ARTIFACT_NOUNS",
    "ARTIFACT_SENTENCES",
    "ABSENCE",
    "IMPRESSION_NORMAL",
    "IMPRESSION_ONE",
    "IMPRESSION_MANY",
    "IMPRESSION_ABNORMAL_BARE",
    "IMPRESSION_NORMAL_WITH_HEDGED",
    "STATE_ADJ",
    "STATE_IN",
    "CORRELATION",
    "SUBJECTS",
]
