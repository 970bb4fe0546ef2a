"""A distribution-shifted phantom: other people, other amplifiers, other rooms, other electrode problems.

The zero-shot transfer test of the CLEF benchmark trains on ordinary phantom sessions (shift level 0) and
tests on sessions drawn from a different distribution (level 1) whose labels are still exactly true for
the stored signal. Level 1 differs from training in four respects:

1. **Backgrounds** (person level): every patient belongs to one of two populations outside or at the
   edge of the training ranges of :data:`~neuronarrator.clinical.phantom.subject.PARAMETERS`, the very
   old or high-voltage young adults (:data:`POPULATIONS`). A PDR slowed by the session's findings
   keeps its slowed frequency (the finding says it is slow).
2. **Amplitudes** (session level): one overall gain on every channel (amplifier calibration, skull
   thickness), from :data:`GAIN_RANGES`. Findings defined by an absolute amplitude stay true: burst
   suppression takes a low gain only (suppression < 10 µV), N3 (delta > 75 µV) and excess beta (> 25 µV)
   a high gain only, and with a high gain the subject's normal beta is lowered so that after the gain
   it stays within the training range (a normal record must not show excessive beta). The PDR amplitude
   the report states is the one after the gain.
3. **Noise**: white sensor noise well above the training's 0.5 µV, muscle artifact at a higher
   prevalence (:data:`EXTRA_PREVALENCE`; drawn as a finding, so the truth names it), and mains
   interference in every session on every electrode (:data:`AMBIENT_MAINS_RMS_UV`, a poorly shielded
   bedside room) instead of the training's ``line_noise`` finding on 1-3 electrodes. The harmonizer
   notches it (the source makes sure it does), so the stored signal holds no mains and no
   ``line_noise`` label, as at level 0 when the notch is applied. Ambient rather than single-electrode
   mains: the harmonizer flags a channel whose mains is 5x the median channel's as bad and interpolates
   it, which at level-1 voltages would often hit a channel that carries a local finding.
4. **Montage problems** (session level): 1-3 bad electrodes (flat, noisy high-impedance, or popping:
   :data:`BAD_KINDS`) that the harmonizer detects and replaces by spherical-spline interpolation, and in
   some sessions a Cz reference (Cz then is not recorded at all and is interpolated too; the harmonizer
   re-references everything to the average, which undoes any common reference exactly).

**Why labels stay true with interpolated electrodes.** An interpolated electrode shows the spline
estimate from its neighbours, so anything confined to that electrode and its close neighbours would
vanish from it. Bad electrodes (and Cz as reference) are therefore drawn only among
:func:`eligible_channels`: channels not named by any piece of evidence that spans fewer than
:data:`LOCAL_EVIDENCE_CHANNELS` channels (a spike field, an electrode pop, a muscle burst, the PDR, a
blink, a vertex wave...). Wide fields (generalized slowing, spike-and-wave, N3 delta) are recovered by
the spline at one electrode from its neighbours, and those findings keep naming it. Every bad electrode
is checked to have been interpolated (:func:`undetected`); the source drops any that the harmonizer
missed from the recording (as missing) and harmonizes again, so no junk channel is ever stored.
Findings never move: no electrode is swapped or relabelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.phantom.subject import Range, Subject
from neuronarrator.io.channels import CANONICAL_19

#: The shift levels defined (0: the training distribution, unchanged).
LEVELS = (0, 1)

# --- 1. backgrounds ------------------------------------------------------------------------------------
#: Person-level populations of level 1 (each patient belongs to one, with equal probability); each range
#: lies outside or at the edge of the training range named in its reason.
POPULATIONS: dict[str, dict[str, Range]] = {
    "elderly": {
        "age_years": Range(85, 95, "years", "training 18-85: the oldest old, common in hospital EEG "
                           "(dementia, delirium work-up)"),
        "pdr_frequency_hz": Range(8.0, 8.5, "Hz", "training 8.5-11.5: Niedermeyer, the healthy elderly keep "
                                  "an alpha of >= 8 Hz, about 0.5-1 Hz below young adults (< 8 Hz is slowed, "
                                  "so not below 8)"),
        "pdr_amplitude_uv": Range(12, 22, "µV p-p", "training 20-60: Niedermeyer, alpha voltage falls with age"),
        "background_rms_uv": Range(7, 10, "µV RMS", "training 10-18: lower-voltage background of old age "
                                   "(Niedermeyer, the EEG of the elderly)"),
        "aperiodic_exponent": Range(0.6, 1.0, "", "training 1.0-1.7: Voytek et al. 2015 J Neurosci 35:13257, "
                                    "the 1/f slope flattens with age ('neural noise'); Donoghue et al. 2020 "
                                    "report exponents down to ~0.5-1 in older adults"),
        "knee_hz": Range(0.5, 1.0, "Hz", "training 1.0-2.5: an assumption at the edge: a lower knee lets the "
                         "1/f law run on into delta (more slow power in a flat spectrum)"),
        "spatial_length_m": Range(0.17, 0.20, "m", "training 0.13-0.17: cortical atrophy widens the CSF layer "
                                  "between cortex and skull, which smears scalp fields further (Nunez & "
                                  "Srinivasan 2006, ch. 6-8: the CSF and skull as spatial low-pass)"),
    },
    "young_high_voltage": {
        "age_years": Range(18, 22, "years", "training 18-85: the youngest adults only"),
        "pdr_frequency_hz": Range(11.5, 12.5, "Hz", "training 8.5-11.5: Niedermeyer, young-adult alpha "
                                  "10.2 +/- 0.9 Hz, so ~12 Hz is about +2 SD and still alpha (8-13 Hz)"),
        "pdr_amplitude_uv": Range(60, 90, "µV p-p", "training 20-60: Niedermeyer, some adults have alpha "
                                  "> 100 µV; voltage is highest in youth"),
        "background_rms_uv": Range(18, 22, "µV RMS", "training 10-18: EEGMMI S001R01, a high-voltage young "
                                   "subject, has 22 µV in average reference"),
        "aperiodic_exponent": Range(1.7, 2.1, "", "training 1.0-1.7: Donoghue et al. 2020 (scalp exponents "
                                    "~1-2), steeper in the young (Voytek et al. 2015)"),
        "knee_hz": Range(2.5, 3.5, "Hz", "training 1.0-2.5: an assumption at the edge: a higher knee keeps "
                         "the awake young adult's spectrum flat through delta (little delta)"),
        "spatial_length_m": Range(0.10, 0.13, "m", "training 0.13-0.17: a thinner, more conductive skull "
                                  "spreads less (Nunez & Srinivasan 2006, ch. 6-8; skull conductivity "
                                  "varies several-fold between people)"),
    },
}  # fmt: skip

# --- 2. amplitudes -------------------------------------------------------------------------------------
#: Overall gain, low or high branch with equal probability (when the findings allow either).
GAIN_RANGES: dict[str, Range] = {
    "low": Range(0.5, 0.7, "ratio", "a thick skull or scalp oedema, an amplifier calibrated low: Nunez & "
                 "Srinivasan 2006 (skull thickness and conductivity set scalp voltage)"),
    "high": Range(1.6, 2.2, "ratio", "a thin skull (skull defects raise voltage: breach rhythm, Niedermeyer) "
                  "or an amplifier calibrated high"),
}  # fmt: skip
#: The largest normal beta (µV RMS per site) after the gain: the training maximum (PARAMETERS["beta_rms_uv"]).
MAX_NORMAL_BETA_RMS_UV = 4.0

# --- 3. noise ------------------------------------------------------------------------------------------
SENSOR_NOISE_RMS_UV = Range(1.5, 3.0, "µV RMS", "training 0.5: ambulatory amplifiers and dry or high-"
                            "impedance electrodes have several times the noise of a lab amplifier (Kappenman "
                            "& Luck 2010 Psychophysiology 47:888; Mathewson et al. 2017 Psychophysiology 54:74)")  # fmt: skip
#: Burst suppression keeps its suppression < 10 µV: at most this much sensor noise.
SUPPRESSION_SENSOR_NOISE_RMS_UV = 0.5
#: Artifact prevalences at level 1 (training: :data:`~neuronarrator.clinical.phantom.subject.PREVALENCE`,
#: 0.3): a tense or uncooperative patient (ICU, emergency).
EXTRA_PREVALENCE: dict[str, float] = {"muscle_artifact": 0.6}
#: Mains on every electrode (median over electrodes; each electrode's coupling varies lognormally with
#: sigma :data:`AMBIENT_MAINS_SPREAD`, small enough that no channel reaches 5x the median's power).
AMBIENT_MAINS_RMS_UV = Range(2.0, 6.0, "µV RMS", "training: mains only with the line_noise finding (15 %); "
                             "a bedside room full of equipment, unshielded cables (Niedermeyer, artifacts)")  # fmt: skip
AMBIENT_MAINS_SPREAD = 0.25
#: No channel's mains above this fraction of its own 1-40 Hz RMS (power ratio 0.36 < the harmonizer's 0.5).
MAINS_CAP = 0.6

# --- 4. montage problems -------------------------------------------------------------------------------
#: Kinds of bad electrode, drawn with equal probability: a shorted or salt-bridged input (peak-to-peak
#: below the 1 µV the harmonizer calls flat), a high-impedance contact (broadband noise and mains 8-12x
#: the median channel: the harmonizer's limit is 5x), a popping electrode (steps of 0.8-2 mV at 1.5-3 per
#: second: peak-to-peak over 500 µV in most seconds).
BAD_KINDS = ("flat", "noisy", "popping")
BAD_COUNT_P = {1: 0.5, 2: 0.3, 3: 0.2}
NOISY_FACTOR = Range(8.0, 12.0, "ratio", "x the median channel's SD; harmonizer limit 5x (PREP-like)")
POP_UV = Range(800, 2000, "µV", "Niedermeyer (artifacts): electrode pops, here a failing contact")
POP_RATE_HZ = Range(1.5, 3.0, "1/s", "a repeatedly popping electrode")
POP_DECAY_S = Range(0.1, 0.4, "s", "discharge of the electrode-gel capacitance")
FLAT_RMS_UV = 0.05
#: Reference of level-1 recordings: linked ears as in training, or Cz (common in some labs' acquisition).
P_CZ_REFERENCE = 0.4
#: Evidence spanning fewer channels than this is local: none of its channels may be made bad.
LOCAL_EVIDENCE_CHANNELS = 8


@dataclass
class ShiftPlan:
    """What a level-1 session changes, drawn before generation (the montage part after it)."""

    level: int
    population: str
    subject: Subject
    specs: list[str]
    state: str
    gain: float
    gain_branch: str
    sensor_noise_rms_uv: float
    mains_rms_uv: float
    line_freq_hz: float
    added_findings: list[str] = field(default_factory=list)
    background: dict[str, float] = field(default_factory=dict)
    reference: str = "linked ears (A1+A2)/2"
    bad_electrodes: list[dict[str, Any]] = field(default_factory=list)
    eligible_channels: list[str] = field(default_factory=list)
    #: Bad electrodes the harmonizer missed (then dropped from the recording as missing): normally none.
    undetected: list[str] = field(default_factory=list)
    mains_rms_uv_per_channel: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("subject", "specs", "state")}
        out["gain"] = round(self.gain, 4)
        out["sensor_noise_rms_uv"] = round(self.sensor_noise_rms_uv, 4)
        out["mains_rms_uv"] = round(self.mains_rms_uv, 4)
        out["background"] = {k: round(v, 4) for k, v in self.background.items()}
        return out


def check_level(level: int) -> int:
    if int(level) not in LEVELS or int(level) != level:
        raise ValueError(f"shift must be one of {LEVELS}, got {level!r}")
    return int(level)


def plan_shift(
    level: int,
    subject: Subject,
    state: str,
    specs: list[str],
    *,
    slowed_pdr: bool,
    person_rng: np.random.Generator,
    session_rng: np.random.Generator,
) -> ShiftPlan:
    """Shift a drawn session (its subject, state and finding specs) to level ``level`` (1).

    ``person_rng`` draws the population and its background (the same for every session of a patient),
    ``session_rng`` the gain, sensor noise and extra artifacts.
    """
    check_level(level)
    names = list(POPULATIONS)
    population = names[int(person_rng.integers(len(names)))]
    background = {name: float(r.draw(person_rng)) for name, r in POPULATIONS[population].items()}
    if slowed_pdr:  # the findings slow the PDR: it keeps the slowed frequency they describe
        background.pop("pdr_frequency_hz")
    background["age_years"] = round(background["age_years"], 1)

    codes = {s.split(":")[0] for s in specs}
    specs = [s for s in specs if s.split(":")[0] != "line_noise"]  # replaced by ambient mains
    added = [code for code, p in EXTRA_PREVALENCE.items() if session_rng.random() < p and code not in codes]
    if "burst_suppression" in codes:
        branch = "low"
    elif "excess_beta" in codes or state == "n3":
        branch = "high"
    else:
        branch = "low" if session_rng.random() < 0.5 else "high"
    gain = float(GAIN_RANGES[branch].draw(session_rng))
    noise = float(SENSOR_NOISE_RMS_UV.draw(session_rng))
    mains = float(AMBIENT_MAINS_RMS_UV.draw(session_rng))
    if "burst_suppression" in codes:
        noise = min(noise, SUPPRESSION_SENSOR_NOISE_RMS_UV)
    shifted = replace(subject, **background)
    if gain * shifted.beta_rms_uv > MAX_NORMAL_BETA_RMS_UV:
        shifted = replace(shifted, beta_rms_uv=MAX_NORMAL_BETA_RMS_UV / gain)
        background["beta_rms_uv"] = shifted.beta_rms_uv
    return ShiftPlan(
        level=level, population=population, subject=shifted, specs=[*specs, *added], state=state, gain=gain,
        gain_branch=branch, sensor_noise_rms_uv=noise, mains_rms_uv=mains, line_freq_hz=shifted.line_freq_hz,
        added_findings=added, background=background,
    )  # fmt: skip


def eligible_channels(truth: Findings) -> list[str]:
    """Channels that may go bad without falsifying ``truth``: named by no local evidence (see the module)."""
    local: set[str] = set()
    for finding in truth.findings:
        if finding.channels and len(finding.channels) < LOCAL_EVIDENCE_CHANNELS:
            local.update(finding.channels)
        for evidence in finding.evidence:
            if len(evidence.channels) < LOCAL_EVIDENCE_CHANNELS:
                local.update(evidence.channels)
    return [ch for ch in CANONICAL_19 if ch not in local]


def _pops(rng: np.random.Generator, n_times: int, sfreq_hz: float) -> np.ndarray:
    rate = POP_RATE_HZ.draw(rng)
    count = max(1, int(rng.poisson(rate * n_times / sfreq_hz)))
    onsets = np.sort(rng.integers(0, n_times, size=count))
    decay = POP_DECAY_S.draw(rng)
    amplitudes = POP_UV.draw(rng, size=count) * rng.choice([-1.0, 1.0], size=count)
    wave = np.zeros(n_times)
    t = np.arange(n_times) / sfreq_hz
    for onset, amplitude in zip(onsets, amplitudes, strict=True):
        wave[onset:] += amplitude * np.exp(-(t[onset:] - t[onset]) / decay)
    return wave


def _mains(data: np.ndarray, sfreq_hz: float, plan: ShiftPlan, rng: np.random.Generator) -> np.ndarray:
    """Mains picked up by every recorded channel (one phase, lognormal coupling), capped per channel at
    :data:`MAINS_CAP` of the channel's own 1-40 Hz RMS so that the harmonizer's per-channel line-noise
    test (mains power >= 0.5x the 1-40 Hz power) never fires: the notch removes it, no channel is lost."""
    n_times = data.shape[1]
    freqs = np.fft.rfftfreq(n_times, d=1.0 / sfreq_hz)
    band = (freqs >= 1.0) & (freqs <= 40.0)
    spectrum = np.abs(np.fft.rfft(data, axis=-1)[:, band]) ** 2
    band_rms = np.sqrt(2.0 * spectrum.sum(axis=-1)) / n_times
    coupling = plan.mains_rms_uv * rng.lognormal(0.0, AMBIENT_MAINS_SPREAD, size=data.shape[0])
    coupling = np.minimum(coupling, MAINS_CAP * band_rms)
    t = np.arange(n_times) / sfreq_hz
    phase = rng.uniform(0, 2 * np.pi) + rng.normal(0.0, 0.2, size=data.shape[0])
    wave = np.sin(2 * np.pi * plan.line_freq_hz * t[None, :] + phase[:, None])
    if 3 * plan.line_freq_hz < sfreq_hz / 2:
        wave += 0.1 * np.sin(2 * np.pi * 3 * plan.line_freq_hz * t[None, :] + 3 * phase[:, None])
    plan.mains_rms_uv_per_channel = [round(float(c), 3) for c in coupling]
    return np.sqrt(2.0) * coupling[:, None] * wave


def apply_shift(
    data_uv: np.ndarray,
    sfreq_hz: float,
    truth: Findings,
    plan: ShiftPlan,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[str]]:
    """The recorded signal of a level-1 session: gain, sensor noise, mains, reference, bad electrodes.

    ``data_uv`` (19, n) is the generator's linked-ears signal; fills ``plan.reference``,
    ``plan.bad_electrodes`` and ``plan.eligible_channels``. Returns the data (float64) and its channel
    names (18 without Cz under a Cz reference).
    """
    n_times = data_uv.shape[1]
    channels = list(CANONICAL_19)
    data = data_uv.astype(np.float64) * plan.gain
    data += plan.sensor_noise_rms_uv * rng.standard_normal(data.shape)
    eligible = eligible_channels(truth)
    plan.eligible_channels = list(eligible)
    cz_draw = rng.random()
    count = int(rng.choice(list(BAD_COUNT_P), p=list(BAD_COUNT_P.values())))
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    if cz_draw < P_CZ_REFERENCE and "Cz" in eligible:
        plan.reference = "Cz"
        order.remove("Cz")
        data = np.delete(data - data[channels.index("Cz")], channels.index("Cz"), axis=0)
        channels.remove("Cz")
    data += _mains(data, sfreq_hz, plan, rng)
    spread = float(np.median(data.std(axis=1)))
    for channel in order[:count]:
        kind = BAD_KINDS[int(rng.integers(len(BAD_KINDS)))]
        row = channels.index(channel)
        detail: dict[str, Any] = {"channel": channel, "kind": kind}
        if kind == "flat":
            data[row] = rng.uniform(-50.0, 50.0) + FLAT_RMS_UV * rng.standard_normal(n_times)
        elif kind == "noisy":
            factor = float(NOISY_FACTOR.draw(rng))
            t = np.arange(n_times) / sfreq_hz
            hum = np.sqrt(2.0) * np.sin(2 * np.pi * plan.line_freq_hz * t + rng.uniform(0, 2 * np.pi))
            data[row] += factor * spread * (0.8 * rng.standard_normal(n_times) + 0.6 * hum)
            detail["rms_uv"] = round(factor * spread, 2)
        else:
            data[row] += _pops(rng, n_times, sfreq_hz)
        plan.bad_electrodes.append(detail)
    return data, channels


def undetected(plan: ShiftPlan, interpolated: tuple[str, ...], masked: tuple[str, ...]) -> list[str]:
    """Bad electrodes (and Cz under a Cz reference) that harmonization neither interpolated nor masked."""
    replaced = set(interpolated) | set(masked)
    wanted = [bad["channel"] for bad in plan.bad_electrodes] + (["Cz"] if plan.reference == "Cz" else [])
    return [ch for ch in wanted if ch not in replaced]


__all__ = [
    "AMBIENT_MAINS_RMS_UV", "BAD_KINDS", "EXTRA_PREVALENCE", "GAIN_RANGES", "LEVELS", "POPULATIONS", "SENSOR_NOISE_RMS_UV",
    "ShiftPlan", "apply_shift", "check_level", "eligible_channels", "plan_shift", "undetected",
]  # fmt: skip
