"""Binary clinical tasks of the linear-probe benchmark, read from the manifest's session rows.

Every task is a float array over the sessions: 1 (positive), 0 (negative) or NaN (unknown). Unknown is
never guessed to be negative: a probe is trained and scored only on the sessions whose label is known
(see :func:`usable_tasks` for when a task has enough of them to be evaluated at all).

Tasks
-----
``finding:<code>``
    For every code of :data:`~neuronarrator.clinical.findings.CODES`: 1 where the session's ``codes``
    hold it; 0 where they do not and the labels are complete (``labels_complete``: the findings state the
    whole record, as a report or the phantom does); NaN where they do not and the labels are only some
    annotated events (a seizure-onset file says nothing about spindles).
``impression:abnormal``
    1 abnormal, 0 normal, NaN where the impression is null.
``state:<state>``
    One-vs-rest for every state of :data:`~neuronarrator.clinical.findings.STATES`; NaN where the state is
    null (the labels do not give it).
``age:65+``, ``age:<40``
    Older adults (age >= 65 years) and young patients (age < 40 years), each against all other known
    ages; NaN where the age is unknown.
``sex:female``
    1 female, 0 male, NaN otherwise.
``medication:antiseizure``, ``medication:benzodiazepine``
    From the ATC codes of the EHR by prefix (:data:`MEDICATION_ATC_PREFIXES`). The ATC list cannot say
    "unknown" by itself (the manifest stores an empty list both for "takes nothing" and for "nobody
    recorded the medications"), so the decision is: a session whose list names any drug has a recorded
    medication list, and its label is 0 or 1; an empty (or null) list counts as "none" (0) only for the
    sources whose EHR records medications (:data:`MEDICATION_SOURCES`), and is NaN elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa

from neuronarrator.clinical.findings import CODES, STATES

#: Age-group tasks: name -> (lowest age included, first age excluded), years.
AGE_GROUPS_YEARS: dict[str, tuple[float, float]] = {"age:65+": (65.0, np.inf), "age:<40": (0.0, 40.0)}

#: Medication-class tasks: name -> ATC code prefixes (WHO ATC/DDD index). A code belongs to the class when
#: it starts with one of the prefixes.
#: - antiseizure: N03A "antiepileptics" (levetiracetam N03AX14, lamotrigine N03AX09, valproate N03AG01, ...)
#:   except N03AE "benzodiazepine derivatives" (clonazepam N03AE01), which is counted as a benzodiazepine.
#: - benzodiazepine: N03AE (clonazepam, filed under antiepileptics), N05BA "benzodiazepine derivatives"
#:   among anxiolytics (diazepam N05BA01, lorazepam N05BA06, clobazam N05BA09), N05CD "benzodiazepine
#:   derivatives" among hypnotics (midazolam N05CD08).
MEDICATION_ATC_PREFIXES: dict[str, tuple[str, ...]] = {
    "medication:antiseizure": ("N03A",),
    "medication:benzodiazepine": ("N03AE", "N05BA", "N05CD"),
}
#: ATC prefixes excluded from a class although a prefix above matches them.
MEDICATION_ATC_EXCLUDED: dict[str, tuple[str, ...]] = {"medication:antiseizure": ("N03AE",)}
#: Sources whose EHR states the medications, so that an empty ATC list means "none": the phantom draws a
#: full EHR, and TUH reports have a MEDICATIONS section (a report without one, or naming only drugs
#: outside :data:`neuronarrator.corpus.sources.ehr.ATC`, also reads as "none": a known weakness).
MEDICATION_SOURCES = frozenset({"phantom", "tuh"})

#: Default minimum number of positives and of negatives (each split) for a task to be evaluated.
MIN_PER_CLASS = 3


def task_names() -> list[str]:
    """Every task name :func:`clinical_tasks` returns, in its order."""
    return [
        *(f"finding:{code}" for code in CODES),
        "impression:abnormal",
        *(f"state:{state}" for state in STATES),
        *AGE_GROUPS_YEARS,
        "sex:female",
        *MEDICATION_ATC_PREFIXES,
    ]


def _in_class(code: str, name: str) -> bool:
    return code.startswith(MEDICATION_ATC_PREFIXES[name]) and not code.startswith(
        MEDICATION_ATC_EXCLUDED.get(name, ())
    )


def _column(table: pa.Table, name: str) -> list:
    if name not in table.column_names:
        raise ValueError(f"session table lacks column {name!r} (has {table.column_names})")
    return table.column(name).to_pylist()


def clinical_tasks(
    table: pa.Table, medication_sources: Iterable[str] = MEDICATION_SOURCES
) -> dict[str, np.ndarray]:
    """Labels of every binary task for the sessions of ``table`` (see the module docstring).

    Parameters
    ----------
    table : pyarrow.Table, n_sessions rows
        Session rows with at least ``codes``, ``labels_complete``, ``impression``, ``state``,
        ``age_years``, ``sex``, ``atc`` and ``source`` (as :func:`~neuronarrator.eval.signals.corpus_sessions`
        returns them).
    medication_sources : iterable of str
        Sources whose empty ATC list means "no medication" (others: unknown).

    Returns
    -------
    dict of str -> ndarray, shape (n_sessions,), float64
        Task name (:func:`task_names` order) -> 1.0 / 0.0 / NaN (unknown).
    """
    codes = [set(c or ()) for c in _column(table, "codes")]
    complete = [bool(c) for c in _column(table, "labels_complete")]  # null: not known to be complete
    tasks: dict[str, np.ndarray] = {}

    for code in CODES:
        tasks[f"finding:{code}"] = np.array(
            [
                1.0 if code in have else (0.0 if full else np.nan)
                for have, full in zip(codes, complete, strict=True)
            ]
        )

    impression = {"abnormal": 1.0, "normal": 0.0}
    tasks["impression:abnormal"] = np.array([impression.get(v, np.nan) for v in _column(table, "impression")])

    states = _column(table, "state")
    for state in STATES:
        tasks[f"state:{state}"] = np.array([np.nan if s is None else float(s == state) for s in states])

    ages = np.array([np.nan if a is None else float(a) for a in _column(table, "age_years")])
    for name, (lo, hi) in AGE_GROUPS_YEARS.items():
        with np.errstate(invalid="ignore"):
            tasks[name] = np.where(np.isfinite(ages), ((ages >= lo) & (ages < hi)).astype(float), np.nan)

    sex = {"female": 1.0, "male": 0.0}
    tasks["sex:female"] = np.array([sex.get(v, np.nan) for v in _column(table, "sex")])

    recorded_sources = frozenset(medication_sources)
    atc = [list(a or ()) for a in _column(table, "atc")]
    sources = _column(table, "source")
    recorded = np.array([bool(a) or s in recorded_sources for a, s in zip(atc, sources, strict=True)])
    for name in MEDICATION_ATC_PREFIXES:
        takes = np.array([any(_in_class(c, name) for c in drugs) for drugs in atc], dtype=float)
        tasks[name] = np.where(recorded, takes, np.nan)

    return tasks


def _count_problem(labels: np.ndarray, min_per_class: int, side: str) -> str | None:
    y = np.asarray(labels, dtype=np.float64)
    known = y[np.isfinite(y)]
    n_pos = int(np.sum(known == 1))
    n_neg = int(np.sum(known == 0))
    if n_pos < min_per_class or n_neg < min_per_class:
        return f"{side}: {n_pos} positive and {n_neg} negative known labels (need >= {min_per_class} each)"
    return None


def usable_tasks(
    train_labels: Mapping[str, np.ndarray],
    eval_labels: Mapping[str, np.ndarray],
    min_per_class: int = MIN_PER_CLASS,
) -> tuple[list[str], dict[str, str]]:
    """Which tasks have enough known labels of both classes to be trained and evaluated.

    Parameters
    ----------
    train_labels, eval_labels : mapping str -> ndarray, shape (n_train,) / (n_eval,)
        Task labels (1 / 0 / NaN unknown) of the training and of the evaluation sessions.
    min_per_class : int
        Minimum positives and minimum negatives among the known labels, in each set.

    Returns
    -------
    kept : list of str
        Evaluable tasks, in ``train_labels`` order.
    skipped : dict of str -> str
        Every other task (of either mapping) -> why it was skipped.
    """
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for name in [*train_labels, *(k for k in eval_labels if k not in train_labels)]:
        if name not in train_labels:
            skipped[name] = "no training labels"
            continue
        if name not in eval_labels:
            skipped[name] = "no evaluation labels"
            continue
        problems = [
            p
            for p in (
                _count_problem(train_labels[name], min_per_class, "train"),
                _count_problem(eval_labels[name], min_per_class, "eval"),
            )
            if p
        ]
        if problems:
            skipped[name] = "; ".join(problems)
        else:
            kept.append(name)
    return kept, skipped
