"""The phantom source: generated sessions with exact ground truth, a rendered report and a drawn EHR.

Patients come first: patient ``p`` is one phantom subject (age, sex, PDR, background: the person-level
parameters of :class:`~neuronarrator.clinical.phantom.Subject`) and has 1-3 sessions, so that
patient-level splits are exercised the way real hospital data exercise them (repeat EEGs of one person
must not straddle train and test). Every session draws its own state and findings at
:data:`~neuronarrator.clinical.phantom.PREVALENCE` from its own seed.

The signal goes through :func:`neuronarrator.io.harmonize.harmonize` like any file: the phantom is
linked-ears referenced and the corpus contract is the average reference with the same notch and
band-pass that real recordings get, so a model cannot tell phantom from real by their preprocessing.
The notch removes the phantom's mains interference, so a ``line_noise`` finding is dropped from the
truth when the harmonizer notched (``meta["removed_by_harmonization"]``): labels describe the stored signal.

The EHR is drawn consistently with the findings (ICD-10 diagnoses that would have led to the EEG, ATC
medications that would explain or treat what it shows), at rates below 1 so that the EHR is a clue and
not a copy of the labels. Everything is deterministic per (seed, session index).

``ecg_lead=1`` stores each session's ECG lead (the chest lead beating with the same R peaks as any
cardiac artifact in the EEG) as an extra channel ``"ECG"``; nothing else changes.

``shift=1`` lists a distribution-shifted set instead (the zero-shot transfer test): other backgrounds,
an overall gain, more noise, bad electrodes and another reference, with labels still true for the
stored signal (:mod:`neuronarrator.clinical.phantom.shift`). Its keys (``phantom-shift/000000``),
patients (``phantom-shift:p000000``) and seeds never collide with the unshifted set's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.phantom import PhantomRecording, Subject, draw_subject, generate
from neuronarrator.clinical.phantom import shift as shifting
from neuronarrator.clinical.phantom.canvas import stream
from neuronarrator.clinical.phantom.generate import MIN_SEIZURE_RECORD_S, PDR_SLOWED_BY
from neuronarrator.clinical.phantom.subject import draw_findings
from neuronarrator.clinical.render import render_report
from neuronarrator.corpus.sources.base import ECG_LEAD, SFREQ_HZ, SessionData, SessionItem
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.io.harmonize import Harmonized, harmonize
from neuronarrator.io.recording import Header, Recording
from neuronarrator.signal.cardiac import lead_at_rate

logger = logging.getLogger(__name__)

name = "phantom"

#: Sessions per patient: most patients have one EEG, some have repeat studies (follow-up, a second
#: routine after an inconclusive first).
SESSIONS_PER_PATIENT_P = {1: 0.7, 2: 0.2, 3: 0.1}
DEFAULT_SESSIONS = 100
DEFAULT_DURATION_S = 60.0

# --- EHR drawn from the findings ----------------------------------------------------------------------
# Each rule: (codes any of which triggers it, probability, [(code, weight), ...]): one code drawn by
# weight when the rule fires. Rates are illustrative: an epileptiform EEG is usually ordered for a known
# or suspected epilepsy (G40.x, or R56.9 "unspecified convulsions" before a diagnosis is made); diffuse
# slowing / GPDs (triphasic waves) point to an encephalopathy (G93.40); focal slowing and LPDs to a
# structural lesion (I63.9 cerebral infarction, G93.89 other disorders of brain).
ICD10_RULES: tuple[tuple[frozenset[str], float, tuple[tuple[str, float], ...]], ...] = (
    (frozenset({"focal_epileptiform", "lpd"}), 0.7, (("G40.209", 0.5), ("G40.109", 0.2), ("G40.909", 0.3))),
    (frozenset({"generalized_spike_wave"}), 0.75, (("G40.309", 0.5), ("G40.A09", 0.3), ("G40.909", 0.2))),
    (frozenset({"seizure"}), 0.8, (("R56.9", 0.5), ("G40.909", 0.5))),
    (frozenset({"generalized_slowing", "gpd", "burst_suppression", "grda"}), 0.6, (("G93.40", 1.0),)),
    (frozenset({"focal_slowing", "lpd", "lrda", "asymmetry"}), 0.5, (("I63.9", 0.5), ("G93.89", 0.5))),
)  # fmt: skip
#: Normal records are mostly ordered for spells, syncope or headache, which are outside this small code
#: set: a normal gets no ICD-10 code (absent knowledge, not a guess).

#: Benzodiazepines (ATC N05BA01 diazepam, N03AE01 clonazepam) cause diffuse excess beta.
BENZODIAZEPINES = (("N05BA01", 0.5), ("N03AE01", 0.5))
#: Antiseizure drugs: levetiracetam (N03AX14), valproate (N03AG01), lamotrigine (N03AX09); valproate is
#: the classic choice for generalized epilepsies.
ASM_FOCAL = (("N03AX14", 0.6), ("N03AX09", 0.25), ("N03AG01", 0.15))
ASM_GENERALIZED = (("N03AG01", 0.5), ("N03AX14", 0.3), ("N03AX09", 0.2))
P_BENZODIAZEPINE_WITH_BETA = 0.7
P_ASM_WITH_EPILEPTIFORM = 0.6
#: Some normal EEGs are of treated patients (follow-up of a known epilepsy).
P_ASM_WITH_NORMAL = 0.08
EPILEPTIFORM_FOR_ASM = frozenset({"focal_epileptiform", "generalized_spike_wave", "lpd", "gpd", "seizure"})


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...]) -> str:
    weights = np.array([w for _, w in table])
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def draw_ehr(
    findings: Findings, age_years: float | None, sex: str | None, rng: np.random.Generator
) -> dict[str, Any]:
    """An EHR consistent with ``findings``: ICD-10 diagnoses and ATC medications drawn by the rules above.

    Parameters
    ----------
    findings : Findings
    age_years, sex : the subject's
    rng : Generator
        Fixes the draw (the same findings and stream give the same EHR).

    Returns
    -------
    dict
        ``age_years``, ``sex``, ``icd10`` (sorted unique codes), ``atc`` (sorted unique codes).
    """
    codes = findings.codes
    icd10: set[str] = set()
    for triggers, probability, table in ICD10_RULES:
        fires = (
            rng.random() < probability
        )  # drawn for every rule so that one rule's draw never shifts another
        pick = _pick(rng, table)
        if fires and codes & triggers:
            icd10.add(pick)
    atc: set[str] = set()
    beta, benzo = rng.random(), _pick(rng, BENZODIAZEPINES)
    if "excess_beta" in codes and beta < P_BENZODIAZEPINE_WITH_BETA:
        atc.add(benzo)
    asm_draw = rng.random()
    asm = _pick(rng, ASM_GENERALIZED if codes & {"generalized_spike_wave", "gpd"} else ASM_FOCAL)
    if codes & EPILEPTIFORM_FOR_ASM:
        if asm_draw < P_ASM_WITH_EPILEPTIFORM:
            atc.add(asm)
    elif findings.impression == "normal" and asm_draw < P_ASM_WITH_NORMAL:
        atc.add(asm)
    return {"age_years": age_years, "sex": sex, "icd10": sorted(icd10), "atc": sorted(atc)}


def _derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers (SeedSequence hashing: nearby inputs give unrelated seeds)."""
    words = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1])) & (2**63 - 1)


def list_items(
    root: Path | None = None,
    *,
    sessions: int = DEFAULT_SESSIONS,
    duration_s: float = DEFAULT_DURATION_S,
    seed: int = 0,
    shift: int = 0,
    ecg_lead: bool | int = False,
    **_ignored: Any,
) -> Iterator[SessionItem]:
    """``sessions`` generated sessions, keyed ``phantom/000000`` ..., patients ``phantom:p000000`` ....

    Parameters
    ----------
    root : ignored (nothing is read)
    sessions : int
        How many sessions; raising it only appends (earlier keys, seeds and patients are unchanged).
    duration_s : float
        Length of every session (at least 10 s, one segment).
    seed : int
        Master seed: every session's seed and every patient's subject derive from it.
    shift : int
        0: the training distribution. 1: the distribution-shifted set, keyed ``phantom-shift/000000``,
        patients ``phantom-shift:p000000``, seeds derived with the level as an extra component.
    ecg_lead : bool
        Store each session's ECG lead beside the EEG (an extra channel named
        :data:`~neuronarrator.corpus.sources.base.ECG_LEAD`), as a clinical recording has one: the
        benchmark then reads ECG artifact the way the report does from a file. The EEG, the labels and
        every other stored value are the same with or without it.
    """
    shift = shifting.check_level(shift)
    if sessions < 0:
        raise ValueError(f"sessions must be >= 0, got {sessions}")
    if duration_s < 10.0:
        raise ValueError(f"duration_s must be >= 10 s (one segment), got {duration_s}")
    counts = np.array(list(SESSIONS_PER_PATIENT_P))
    probs = np.array(list(SESSIONS_PER_PATIENT_P.values()))
    # level 0 keeps its original seeds; a shifted level tags its seeds 10-12 and adds the level
    tag, extra, prefix = (0, (), "phantom") if shift == 0 else (10, (shift,), "phantom-shift")
    if shift > 1:
        prefix += str(shift)
    index, patient = 0, 0
    while index < sessions:
        n = int(np.random.default_rng(_derived_seed(seed, tag + 1, patient, *extra)).choice(counts, p=probs))
        for _ in range(min(n, sessions - index)):
            options: dict[str, Any] = {
                "seed": _derived_seed(seed, tag, index, *extra),
                "patient_seed": _derived_seed(seed, tag + 2, patient, *extra),
                "duration_s": float(duration_s),
            }
            if shift:
                options["shift"] = shift
            if ecg_lead:
                options["ecg_lead"] = True
            yield SessionItem(
                source=name, key=f"{prefix}/{index:06d}", patient=f"{prefix}:p{patient:06d}", options=options
            )
            index += 1
        patient += 1


def load(item: SessionItem) -> SessionData:
    """Generate, harmonize and label one phantom session (see the module docstring)."""
    seed = int(item.options["seed"])
    duration_s = float(item.options.get("duration_s", DEFAULT_DURATION_S))
    # The same draw generate() makes for findings=None, to know whether this session slows the PDR; the
    # patient's subject then comes from the patient's own stream, so all its sessions share the person.
    state, drawn = draw_findings(stream(seed, "findings"))
    slowed = any(spec.split(":")[0] in PDR_SLOWED_BY for spec in drawn)
    subject = draw_subject(stream(int(item.options["patient_seed"]), "subject"), slowed_pdr=slowed)
    plan = None
    if item.options.get("shift", 0):
        subject, rec, plan = _shifted_session(item, seed, duration_s, subject, state, drawn, slowed)
        data_uv, channels = shifting.apply_shift(
            rec.data_uv, rec.sfreq_hz, rec.truth, plan, stream(seed, "shift-montage")
        )
    else:
        rec = generate(None, seed=seed, duration_s=duration_s, subject=subject)
        data_uv, channels = rec.data_uv, list(CANONICAL_19)

    header = Header(age_years=subject.age_years, sex=subject.sex)
    recording = Recording.from_array(
        data_uv, rec.sfreq_hz, channels, path=item.key, events=list(rec.events), header=header
    )
    harmonized = harmonize(recording)
    if plan is not None:
        harmonized = _check_montage(harmonized, recording, data_uv, channels, plan)
    truth, removed = rec.truth, []
    if harmonized.line_freq_hz is not None and "line_noise" in truth.codes:
        # The harmonizer notched the mains away: the corpus signal no longer shows it, so neither may its labels.
        truth = replace(truth, findings=tuple(f for f in truth.findings if f.code != "line_noise"))
        removed.append("line_noise")
    narrative = render_report(
        truth, rng=stream(seed, "narrative"),
        extras={"pdr_amplitude_uv": subject.pdr_amplitude_uv * (1.0 if plan is None else plan.gain)},
    )  # fmt: skip
    ehr = draw_ehr(truth, subject.age_years, subject.sex, stream(seed, "ehr"))
    logger.debug("%s: %s, %d findings", item.key, truth.impression, len(truth.findings))
    meta_shift = {} if plan is None else {"shift": plan.to_dict()}
    lead: dict[str, Any] = {}
    if item.options.get("ecg_lead"):
        n_times = harmonized.data_uv.shape[1]
        lead = {"extra_uv": lead_at_rate(rec.ecg_uv, rec.sfreq_hz, SFREQ_HZ, n_times)[None], "extra_channels": (ECG_LEAD,)}
    return SessionData(
        data_uv=harmonized.data_uv.astype(np.float32, copy=False),
        montage=harmonized.montage,
        channel_mask=harmonized.channel_mask,
        findings=truth,
        narrative=narrative.text,
        narrative_origin="rendered",
        ehr=ehr,
        meta={
            "source_file": None,
            "seed": seed,
            "requested": list(rec.requested),
            "subject": subject.to_dict(),
            "original_reference": rec.reference if plan is None else plan.reference,
            "removed_by_harmonization": removed,
            "harmonize": harmonized.to_dict(),
            **meta_shift,
        },
        labels_complete=True,  # the generator's truth: everything the signal holds
        state_known=True,
        **lead,
    )


def _shifted_session(
    item: SessionItem,
    seed: int,
    duration_s: float,
    subject: Subject,
    state: str,
    drawn: list[str],
    slowed: bool,
) -> tuple[Subject, PhantomRecording, shifting.ShiftPlan]:
    """Generate a shifted session: shifted subject, extra artifacts, the state and findings drawn as usual."""
    plan = shifting.plan_shift(
        int(item.options["shift"]), subject, state, drawn, slowed_pdr=slowed,
        person_rng=stream(int(item.options["patient_seed"]), "shift-subject"),
        session_rng=stream(seed, "shift-session"),
    )  # fmt: skip
    specs = plan.specs
    if duration_s < MIN_SEIZURE_RECORD_S:  # as generate() does for drawn findings
        specs = [s for s in specs if s.split(":")[0] != "seizure"]
    rec = generate(specs, seed=seed, duration_s=duration_s, subject=plan.subject, state=state)
    return plan.subject, rec, plan


def _check_montage(
    harmonized: Harmonized,
    recording: Recording,
    data_uv: np.ndarray,
    channels: list[str],
    plan: shifting.ShiftPlan,
) -> Harmonized:
    """Make sure every bad electrode was replaced and the mains notched; else drop the bad electrodes the
    harmonizer kept (as missing), name the mains frequency, and harmonize again."""
    missed = shifting.undetected(plan, harmonized.channels_interpolated, harmonized.channels_masked)
    plan.undetected = missed
    if not missed and harmonized.line_freq_hz is not None:
        return harmonized
    logger.info("%s: harmonization missed bad electrodes %s or the mains (%s Hz); redone", recording.path,
                   missed, harmonized.line_freq_hz)  # fmt: skip
    keep = [i for i, ch in enumerate(channels) if ch not in missed]
    again = Recording.from_array(
        data_uv[keep], recording.sfreq_hz, [channels[i] for i in keep], path=recording.path,
        events=list(recording.events), header=recording.header,
    )  # fmt: skip
    return harmonize(again, line_freq_hz=plan.line_freq_hz)
