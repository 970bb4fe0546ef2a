"""The phantom's parameter ranges, each with its source, and the :class:`Subject` drawn per seed.

Every number a generator draws comes from :data:`PARAMETERS`: a range, its unit, and where the range
comes from. Sources, abbreviated in the table:

- ACNS 2021: Hirsch et al., "American Clinical Neurophysiology Society's Standardized Critical Care EEG
  Terminology: 2021 Version", J Clin Neurophysiol 38(1):1-29, 2021.
- IFCN 2017: Kane et al., "A revised glossary of terms most commonly used by clinical
  electroencephalographers", Clin Neurophysiol Pract 2:170-185, 2017.
- AASM: Berry et al., *The AASM Manual for the Scoring of Sleep and Associated Events*, v2.6, 2020.
- Niedermeyer: Schomer & Lopes da Silva (eds.), *Niedermeyer's Electroencephalography*, 7th ed., 2018
  (chapters on the normal waking adult, sleep, and abnormal EEG patterns).
- E&P: Ebersole, Husain & Nordli (eds.), *Current Practice of Clinical Electroencephalography*, 4th ed.,
  2014.
- Amplitudes are peak-to-peak µV in a referential display, as clinical reports give them. A narrow-band
  rhythm of peak-to-peak amplitude A has an RMS near A / (2√2); broadband activity near A / 4-6.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Range:
    """A parameter's plausible range (drawn uniformly), its unit and its source."""

    low: float
    high: float
    unit: str
    source: str

    def draw(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.uniform(self.low, self.high, size=size)


#: Every generator parameter, its range and its source.
PARAMETERS: dict[str, Range] = {
    # --- subject and background -------------------------------------------------------------------
    "age_years": Range(18, 85, "years", "adult hospital EEG population; the phantom models adults only"),
    "pdr_frequency_hz": Range(8.5, 11.5, "Hz", "Niedermeyer (waking adult): alpha 10.2 +/- 0.9 Hz in young "
                              "adults, ~0.5-1 Hz lower in the healthy elderly, >= 8 Hz"),
    "pdr_slowed_frequency_hz": Range(6.0, 7.8, "Hz", "E&P / ACNS 2021: an adult PDR below 8 Hz is slowed"),
    "pdr_amplitude_uv": Range(20, 60, "µV p-p", "Niedermeyer: adult alpha mostly 20-60 µV (some > 100 µV), "
                              "lower with age"),
    "pdr_right_over_left": Range(1.0, 1.2, "ratio", "Niedermeyer: right alpha often higher; < 50 % is normal"),
    "pdr_sigma_hz": Range(0.35, 0.6, "Hz", "alpha peak FWHM ~1-1.5 Hz (EEGMMI S001R02 measured here: ~1.4 Hz)"),
    "pdr_eyes_open_residual": Range(0.1, 0.3, "ratio", "Niedermeyer: eye opening blocks alpha (>= 50 %)"),
    "background_rms_uv": Range(10, 18, "µV RMS", "per site before referencing (much of it is common to all "
                               "sites): ~5-9 µV RMS 1-45 Hz in average reference and 8-14 µV in the double "
                               "banana, i.e. the 20-70 µV p-p of the awake adult background (Niedermeyer); "
                               "EEGMMI S001R01, a high-voltage subject, has 22 µV in average reference"),
    "aperiodic_exponent": Range(1.0, 1.7, "", "Donoghue et al. 2020 Nat Neurosci 23:1655 (1/f exponent of "
                                "scalp EEG ~1-2), flatter with age: Voytek et al. 2015 J Neurosci 35:13257"),
    "sleep_exponent_increase": Range(0.3, 0.6, "", "Lendner et al. 2020 eLife 9:e55092: steeper 1/f in sleep"),
    "knee_hz": Range(1.0, 2.5, "Hz", "scalp spectra flatten below ~1-3 Hz (Miller et al. 2009; FOOOF knee); "
                     "little delta in the awake adult (Niedermeyer)"),
    "spatial_length_m": Range(0.13, 0.17, "m", "Nunez & Srinivasan 2006, ch. 8; fitted to EEGMMI S001R01: "
                              "1-13 Hz correlation 0.85 at 5-9 cm, 0.45 at 15-20 cm (Gaussian kernel length)"),
    "beta_rms_uv": Range(1.5, 4.0, "µV RMS", "Niedermeyer: normal frontocentral beta < 20 µV p-p"),
    "mu_amplitude_uv": Range(20, 40, "µV p-p", "Niedermeyer: mu 7-11 Hz, central, in ~10-20 % of adults"),
    "mu_frequency_hz": Range(8.5, 11.0, "Hz", "Niedermeyer: mu rhythm frequency"),
    "heart_rate_bpm": Range(55, 95, "1/min", "resting adult heart rate"),
    "blink_rate_per_min": Range(10, 25, "1/min", "Bentivoglio et al. 1997 Mov Disord 12:1028: 17/min at rest"),
    # --- drowsiness and sleep ----------------------------------------------------------------------
    "drowsy_theta_uv": Range(15, 35, "µV p-p", "Niedermeyer (drowsiness): diffuse 4-7 Hz theta, alpha dropout"),
    "slow_eye_movement_hz": Range(0.25, 0.5, "Hz", "AASM: SEMs, initial deflection > 500 ms"),
    "slow_eye_movement_uv": Range(60, 150, "µV p-p at F7/F8", "Niedermeyer: slow roving eye movements"),
    "vertex_wave_uv": Range(60, 150, "µV p-p", "AASM: vertex sharp waves < 0.5 s, central maximum"),
    "vertex_wave_per_min": Range(2, 6, "1/min", "Niedermeyer: vertex waves in stage N1-N2"),
    "spindle_frequency_hz": Range(12.0, 14.5, "Hz", "AASM: 11-16 Hz, most commonly 12-14 Hz"),
    "spindle_duration_s": Range(0.5, 2.0, "s", "AASM: >= 0.5 s; De Gennaro & Ferrara 2003 Sleep Med Rev 7:423"),
    "spindle_amplitude_uv": Range(20, 50, "µV p-p", "Niedermeyer: spindles usually < 50 µV, central maximum"),
    "spindle_per_min": Range(3, 7, "1/min", "De Gennaro & Ferrara 2003: N2 spindle density ~2-7/min"),
    "k_complex_uv": Range(100, 200, "µV p-p", "AASM: negative sharp wave then positive component, >= 0.5 s"),
    "k_complex_per_min": Range(1, 3, "1/min", "Colrain 2005 Sleep 28:255"),
    "n2_theta_uv": Range(20, 40, "µV p-p", "AASM N2: low-amplitude mixed-frequency background"),
    "n3_delta_uv": Range(120, 220, "µV p-p", "AASM N3: 0.5-2 Hz, > 75 µV frontally, > 20 % of the epoch"),
    "n3_delta_hz": Range(0.6, 1.5, "Hz", "AASM N3: slow waves 0.5-2 Hz"),
    "sawtooth_hz": Range(2.0, 5.0, "Hz", "AASM: sawtooth waves 2-6 Hz, central maximum, in trains"),
    "sawtooth_uv": Range(30, 80, "µV p-p", "Niedermeyer (REM sleep)"),
    "rem_uv": Range(60, 150, "µV p-p at F7/F8", "AASM: REMs, initial deflection < 500 ms"),
    # --- abnormal, non-epileptiform ----------------------------------------------------------------
    "generalized_slowing_uv": Range(40, 90, "µV p-p", "E&P: diffuse polymorphic theta/delta"),
    "generalized_slowing_hz": Range(2.0, 7.0, "Hz", "ACNS 2021: delta < 4 Hz, theta 4-< 8 Hz"),
    "focal_slowing_uv": Range(80, 150, "µV p-p", "E&P: focal polymorphic delta (1-4 Hz), 50-150 µV, standing out"),
    "focal_slowing_sigma_m": Range(0.04, 0.055, "m", "a lobar field: the focus and its neighbours"),
    "asymmetry_gain": Range(0.35, 0.55, "ratio", "ACNS 2021: amplitude asymmetry >= 50 % is marked"),
    "excess_beta_uv": Range(30, 50, "µV p-p", "Niedermeyer: beta > 25 µV is excessive (drug effect)"),
    "excess_beta_hz": Range(18, 25, "Hz", "Niedermeyer: benzodiazepine beta 18-25 Hz, frontocentral"),
    "lrda_hz": Range(1.0, 2.5, "Hz", "ACNS 2021: RDA 0.5-4 Hz, >= 6 cycles; LRDA typically 1-2 Hz"),
    "grda_hz": Range(2.0, 2.5, "Hz", "ACNS 2021 / E&P: GRDA frontally predominant (FIRDA) ~2-2.5 Hz"),
    "rda_uv": Range(60, 150, "µV p-p", "E&P: rhythmic delta 50-150 µV"),
    "rda_run_s": Range(4, 12, "s", "ACNS 2021: >= 6 cycles; 'brief' runs < 10 s"),
    # --- epileptiform --------------------------------------------------------------------------------
    "spike_duration_s": Range(0.02, 0.07, "s", "IFCN 2017 / ACNS 2021: spike 20-< 70 ms"),
    "sharp_duration_s": Range(0.07, 0.2, "s", "IFCN 2017 / ACNS 2021: sharp wave 70-200 ms"),
    "spike_uv": Range(100, 200, "µV p-p", "E&P: interictal discharges usually 50-200 µV, standing out"),
    "spike_per_min": Range(3, 10, "1/min", "a clearly active focus in a routine EEG"),
    "spike_sigma_m": Range(0.03, 0.04, "m", "spike fields cover 2-3 electrodes (E&P)"),
    "spike_wave_hz": Range(2.8, 3.5, "Hz", "Niedermeyer: typical absence 3-4 Hz at onset, slowing to 2.5-3"),
    "spike_wave_uv": Range(250, 500, "µV p-p", "Niedermeyer: 3 Hz spike-and-wave 200-500 µV, frontal maximum"),
    "spike_wave_burst_s": Range(2.0, 6.0, "s", "interictal bursts / brief absences"),
    "pd_hz": Range(0.7, 1.5, "Hz", "ACNS 2021: LPDs typically ~1 Hz (periodic: interval varies < 50 %)"),
    "pd_uv": Range(100, 250, "µV p-p", "E&P: periodic discharges 50-300 µV"),
    "gpd_hz": Range(1.0, 2.0, "Hz", "ACNS 2021: GPDs 0.5-2.5 Hz; triphasic ~1.5-2 Hz"),
    "gpd_uv": Range(150, 300, "µV p-p", "E&P / ACNS 2021: GPDs and triphasic waves often 100-300 µV"),
    "triphasic_lag_s": Range(0.025, 0.14, "s", "ACNS 2021: anterior-posterior lag of triphasic waves"),
    "bs_burst_s": Range(1.0, 3.0, "s", "ACNS 2021: bursts >= 0.5 s with >= 4 phases"),
    "bs_suppression_s": Range(2.0, 8.0, "s", "ACNS 2021: burst suppression = 50-99 % suppression"),
    "bs_burst_uv": Range(80, 250, "µV p-p", "Niedermeyer: bursts of high-voltage mixed activity"),
    "bs_suppression_rms_uv": Range(0.6, 1.2, "µV RMS", "ACNS 2021: suppression < 10 µV"),
    "seizure_duration_s": Range(20, 60, "s", "ACNS 2021: >= 10 s; typical focal seizures 30-120 s"),
    "seizure_onset_hz": Range(14, 22, "Hz", "E&P: low-voltage fast activity at focal onset"),
    "seizure_start_hz": Range(5.0, 7.0, "Hz", "E&P: evolving rhythmic theta after the onset"),
    "seizure_end_hz": Range(2.0, 3.0, "Hz", "E&P: slowing to rhythmic delta before the end"),
    "seizure_uv": Range(150, 300, "µV p-p", "E&P: ictal rhythm grows in amplitude as it slows"),
    # --- artifacts -----------------------------------------------------------------------------------
    "blink_uv": Range(100, 200, "µV p-p at Fp1/Fp2", "Lins et al. 1993 Psychophysiology 30:51"),
    "blink_duration_s": Range(0.2, 0.4, "s", "Niedermeyer (artifacts): blinks 200-400 ms"),
    "lateral_eye_uv": Range(50, 150, "µV at F7/F8", "Niedermeyer (artifacts): opposite polarity at F7/F8"),
    "muscle_uv": Range(15, 40, "µV RMS", "Niedermeyer (artifacts): EMG 20-70+ Hz, temporal/frontal"),
    "muscle_burst_s": Range(0.5, 3.0, "s", "chewing, jaw clenching, frowning"),
    "pop_uv": Range(50, 200, "µV", "Niedermeyer (artifacts): electrode pop, abrupt step, one channel"),
    "pop_decay_s": Range(0.1, 0.6, "s", "discharge of the electrode-gel capacitance"),
    "ecg_uv": Range(5, 20, "µV p-p", "Niedermeyer (artifacts): ECG in ear references, left > right"),
    "line_noise_uv": Range(3, 15, "µV RMS", "mains interference with a poor electrode contact"),
}  # fmt: skip

#: Probability that a randomly drawn subject shows a finding (when no findings are requested). An
#: illustrative case mix of a hospital EEG service (about half of records abnormal, as in the TUH
#: EEG Abnormal Corpus: Lopez de Diego 2017, MS thesis, Temple University); per-code rates are rough.
PREVALENCE: dict[str, float] = {
    "generalized_slowing": 0.15, "focal_slowing": 0.12, "asymmetry": 0.04, "excess_beta": 0.06,
    "focal_epileptiform": 0.10, "generalized_spike_wave": 0.03, "lpd": 0.02, "gpd": 0.02, "lrda": 0.02,
    "grda": 0.03, "seizure": 0.02, "burst_suppression": 0.01,
    "muscle_artifact": 0.3, "ecg_artifact": 0.25, "electrode_artifact": 0.1, "line_noise": 0.15,
    "eye_movement_artifact": 0.15,
}  # fmt: skip

#: State of a randomly drawn record (routine EEGs are mostly awake, some drift into sleep).
STATE_PREVALENCE: dict[str, float] = {
    "awake": 0.65,
    "drowsy": 0.12,
    "n1": 0.08,
    "n2": 0.1,
    "n3": 0.02,
    "rem": 0.03,
}

#: The mu rhythm is visible in a minority of adults (Niedermeyer).
MU_PREVALENCE = 0.15


@dataclass(frozen=True)
class Subject:
    """One phantom subject: the person-level parameters every generator reads.

    All amplitudes in µV (peak-to-peak unless named ``rms``), frequencies in Hz.
    """

    age_years: float
    sex: str
    pdr_frequency_hz: float
    pdr_amplitude_uv: float
    pdr_right_over_left: float
    pdr_sigma_hz: float
    pdr_eyes_open_residual: float
    background_rms_uv: float
    aperiodic_exponent: float
    sleep_exponent_increase: float
    knee_hz: float
    spatial_length_m: float
    beta_rms_uv: float
    mu_amplitude_uv: float  # 0 when the subject has no visible mu rhythm
    mu_frequency_hz: float
    heart_rate_bpm: float
    blink_rate_per_min: float
    line_freq_hz: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def draw_subject(rng: np.random.Generator, *, slowed_pdr: bool = False) -> Subject:
    """Draw a subject; age shifts the PDR (slower, smaller) and the 1/f exponent (flatter).

    Parameters
    ----------
    rng : Generator
    slowed_pdr : bool
        Draw the PDR from the slowed range (< 8 Hz): a diffusely slow (encephalopathic) record.
    """
    p = PARAMETERS
    age = float(p["age_years"].draw(rng))
    old = np.clip((age - 30.0) / 50.0, 0.0, 1.0)  # 0 at 30 years, 1 at 80
    # Both frequencies are always drawn, so a slowed and a normal case of one seed share everything else.
    slowed_frequency = float(p["pdr_slowed_frequency_hz"].draw(rng))
    lo, hi = p["pdr_frequency_hz"].low, p["pdr_frequency_hz"].high
    normal_frequency = float(
        rng.uniform(lo, hi - 1.5 * old)
    )  # the elderly sit in the lower part of the range
    pdr_frequency = slowed_frequency if slowed_pdr else normal_frequency
    amp = p["pdr_amplitude_uv"]
    exponent = p["aperiodic_exponent"]
    has_mu = rng.random() < MU_PREVALENCE
    mu_amplitude = float(p["mu_amplitude_uv"].draw(rng))
    return Subject(
        age_years=round(age, 1),
        sex="female" if rng.random() < 0.5 else "male",
        pdr_frequency_hz=pdr_frequency,
        pdr_amplitude_uv=float(rng.uniform(amp.low, amp.high - 15.0 * old)),
        pdr_right_over_left=float(p["pdr_right_over_left"].draw(rng)),
        pdr_sigma_hz=float(p["pdr_sigma_hz"].draw(rng)),
        pdr_eyes_open_residual=float(p["pdr_eyes_open_residual"].draw(rng)),
        background_rms_uv=float(p["background_rms_uv"].draw(rng)),
        aperiodic_exponent=float(rng.uniform(exponent.low + 0.0, exponent.high - 0.4 * old)),
        sleep_exponent_increase=float(p["sleep_exponent_increase"].draw(rng)),
        knee_hz=float(p["knee_hz"].draw(rng)),
        spatial_length_m=float(p["spatial_length_m"].draw(rng)),
        beta_rms_uv=float(p["beta_rms_uv"].draw(rng)),
        mu_amplitude_uv=mu_amplitude if has_mu else 0.0,
        mu_frequency_hz=float(p["mu_frequency_hz"].draw(rng)),
        heart_rate_bpm=float(p["heart_rate_bpm"].draw(rng)),
        blink_rate_per_min=float(p["blink_rate_per_min"].draw(rng)),
        line_freq_hz=50.0 if rng.random() < 0.5 else 60.0,
    )


def draw_findings(rng: np.random.Generator) -> tuple[str, list[str]]:
    """Draw a state and finding specs (``code[:side][:region]``) at :data:`PREVALENCE`.

    Mutually exclusive patterns are resolved by keeping the first in :data:`PREVALENCE` order: burst
    suppression excludes sleep and every other abnormal background pattern.
    """
    states = list(STATE_PREVALENCE)
    state = states[int(rng.choice(len(states), p=np.array(list(STATE_PREVALENCE.values()))))]
    codes = [code for code, prob in PREVALENCE.items() if rng.random() < prob]
    if "burst_suppression" in codes:
        state = "awake"
        codes = ["burst_suppression", *(c for c in codes if c.endswith("artifact") or c == "line_noise")]
    if state != "awake":  # seizures and periodic patterns are drawn in wake only (keeps the cases readable)
        codes = [c for c in codes if c not in ("seizure", "lpd", "gpd")]
    specs = []
    for code in codes:
        if code in ("focal_slowing", "focal_epileptiform", "lpd", "lrda", "asymmetry", "seizure"):
            side = "left" if rng.random() < 0.5 else "right"
            region = ("temporal", "frontal", "central", "parietal", "occipital")[
                int(rng.choice(5, p=[0.5, 0.2, 0.1, 0.1, 0.1]))
            ]
            specs.append(f"{code}:{side}" if code == "asymmetry" else f"{code}:{side}:{region}")
        else:
            specs.append(code)
    return state, specs
