"""Extracerebral activity: eyes, muscle, electrodes, heart and mains (Niedermeyer, "Artifacts").

- Eyes: the corneo-retinal dipole (:func:`~neuronarrator.clinical.phantom.head.eye_fields`). A blink
  rolls the eyes up (Bell's phenomenon) and slides the lid over the cornea: a 200-400 ms positive
  deflection, largest at Fp1/Fp2 and fading backwards; a lateral gaze puts opposite polarities at F7
  and F8. Eye opening and closing move the eyes too: a slow shift at Fp1/Fp2 at each transition.
- Muscle: spatially incoherent broadband (20-70+ Hz) bursts over temporalis and frontalis.
- Electrode pop: an abrupt step at one electrode (the gel's charge shifting) decaying exponentially.
- ECG: the heart is a far-field source: a near-linear potential gradient across the head, its R wave
  positive on the left; seen mostly in left temporal channels and through the ear reference.
- Mains: 50 or 60 Hz, strongest at electrodes with poor contact (differential amplifiers reject the
  common part).
"""

from __future__ import annotations

import numpy as np

from neuronarrator.clinical.findings import Finding
from neuronarrator.clinical.phantom.canvas import Canvas, Spec
from neuronarrator.clinical.phantom.head import (
    EARS,
    INDEX,
    N_SCALP,
    SITES,
    channels_over,
    eye_fields,
    gaussian_field,
    site_positions_m,
)
from neuronarrator.clinical.phantom.subject import PARAMETERS
from neuronarrator.clinical.phantom.waveforms import (
    at_least_one,
    bump,
    event_times,
    flat_band,
    half_gaussians,
    place,
    smooth_gate,
    spans_mask,
    spectral_noise,
)

#: Where muscle bursts come from: temporalis (F7/F8, T7/T8) and frontalis (Fp1/Fp2).
MUSCLE_SITES = ("F7", "F8", "T7", "T8", "Fp1", "Fp2")


def add_blinks(canvas: Canvas, spec: Spec | None = None) -> None:
    """Blinks during eyes-open spans (at the subject's rate; at least one per span) and the eye shifts at
    each opening and closing."""
    if not canvas.eyes_open_s:
        return
    rng = canvas.stream("blinks")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    times = event_times(rng, canvas.duration_s, 60.0 / canvas.subject.blink_rate_per_min, 1.0, margin_s=0.3)
    inside = spans_mask(n, sfreq, [(a + 0.3, b - 0.3) for a, b in canvas.eyes_open_s])
    times = times[inside[np.clip((times * sfreq).astype(int), 0, n - 1)]]
    first = np.array([a + rng.uniform(0.4, min(1.2, max(0.5, (b - a) / 2))) for a, b in canvas.eyes_open_s])
    times = np.unique(np.round(np.concatenate([first, times]), 2))
    times = times[np.concatenate([[True], np.diff(times) > 0.6])]  # blinks do not overlap
    duration = PARAMETERS["blink_duration_s"].draw(rng)
    template, anchor = half_gaussians(sfreq, 0.18 * duration, 0.3 * duration)
    amplitudes = PARAMETERS["blink_uv"].draw(rng, size=times.size)
    vertical, _ = eye_fields()
    wave = place(n, sfreq, times, amplitudes, template, anchor)
    # Eyes closed: the eyes sit rolled up (Bell's phenomenon), so Fp1/Fp2 are more positive than with
    # eyes open; each transition is a slow shift (~0.2 s) that the 0.5 Hz low-frequency filter turns
    # into a transient.
    shift = PARAMETERS["blink_uv"].draw(rng) * 0.4
    wave -= shift * smooth_gate(canvas.eyes_open_mask(), sfreq, 0.2)
    canvas.add_extracerebral(vertical, wave)
    channels = channels_over(vertical, 0.5)
    spans = [(t0 - 2.5 * 0.18 * duration, t0 + 2.5 * 0.3 * duration) for t0 in times]
    canvas.record(Finding("eye_blink_artifact", channels=channels, evidence=canvas.evidence(spans, channels)),
                  duration_s=float(duration), n_blinks=int(times.size))  # fmt: skip


def add_lateral_eye_movements(canvas: Canvas, spec: Spec | None = None) -> None:
    """Saccades to one side and back (awake): F7 and F8 deflect in opposite directions."""
    rng = canvas.stream("eye-movements")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    times = at_least_one(
        event_times(rng, canvas.duration_s, 8.0, 2.5, margin_s=0.5), rng, canvas.duration_s, 0.8
    )
    hold = rng.uniform(0.4, 1.5, size=times.size)
    amplitude = PARAMETERS["lateral_eye_uv"].draw(rng, size=times.size) * rng.choice(
        [-1.0, 1.0], size=times.size
    )
    t = canvas.t_s
    wave = np.zeros(n)
    for t0, h, a in zip(times, hold, amplitude, strict=True):  # one slice per movement
        i0, i1 = int(max(0.0, t0 - 0.1) * sfreq), int(min(canvas.duration_s, t0 + h + 0.3) * sfreq)
        local = t[i0:i1] - t0
        wave[i0:i1] += a / 2 * (np.tanh(local / 0.02) - np.tanh((local - h) / 0.03))
    _, horizontal = eye_fields()
    canvas.add_extracerebral(horizontal, wave)
    spans = [(t0 - 0.1, t0 + h + 0.2) for t0, h in zip(times, hold, strict=True)]
    canvas.record(
        Finding("eye_movement_artifact", channels=("F7", "F8"), evidence=canvas.evidence(spans, ("F7", "F8")))
    )


def add_muscle(canvas: Canvas, spec: Spec | None = None) -> None:
    """Bursts of broadband 20-70+ Hz muscle activity over temporalis/frontalis, independent per electrode."""
    rng = canvas.stream("muscle")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    starts = at_least_one(
        event_times(rng, canvas.duration_s, 12.0, 4.0, margin_s=0.3), rng, canvas.duration_s, 0.5
    )
    noise = spectral_noise(rng, len(SITES), n, sfreq, flat_band(20.0, min(95.0, 0.45 * sfreq), 3.0))
    gain = np.zeros((len(SITES), n))
    spans, used = [], set()
    for start in starts:  # one short loop per burst
        length = PARAMETERS["muscle_burst_s"].draw(rng)
        centres = rng.choice(MUSCLE_SITES, size=int(rng.integers(1, 4)), replace=False)
        field = sum(gaussian_field(str(c), 0.025) for c in centres)
        field[list(EARS)] = 0.0
        envelope = smooth_gate(spans_mask(n, sfreq, [(start, start + length)]), sfreq, 0.15)
        gain += PARAMETERS["muscle_uv"].draw(rng) * field[:, None] * envelope[None, :]
        channels = channels_over(field, 0.3)
        used.update(channels)
        spans.append(((start, start + length), channels))
    canvas.extracerebral += gain * noise
    evidence = tuple(e for (span, ch) in spans for e in canvas.evidence([span], ch))
    canvas.record(
        Finding("muscle_artifact", channels=tuple(c for c in SITES[:N_SCALP] if c in used), evidence=evidence)
    )


def add_electrode_pops(canvas: Canvas, spec: Spec | None = None) -> None:
    """Electrode pops: abrupt steps at one electrode with exponential decay, sometimes repeating."""
    rng = canvas.stream("electrode")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    channel = (
        str(spec.channels[0]) if spec is not None and spec.channels else str(rng.choice(SITES[:N_SCALP]))
    )
    count = int(rng.integers(1, 4))
    times = np.sort(rng.uniform(0.5, canvas.duration_s - 1.0, size=count))
    decay = PARAMETERS["pop_decay_s"].draw(rng)
    t = np.arange(int(5 * decay * sfreq) + 1) / sfreq
    template = np.exp(-t / decay)
    amplitudes = PARAMETERS["pop_uv"].draw(rng, size=count) * rng.choice([-1.0, 1.0], size=count)
    weights = np.zeros(len(SITES))
    weights[INDEX[channel]] = 1.0
    canvas.add_extracerebral(weights, place(n, sfreq, times, amplitudes, template, 0))
    spans = [(t0, t0 + 3 * decay) for t0 in times]
    canvas.record(Finding("electrode_artifact", channels=(channel,), evidence=canvas.evidence(spans, (channel,))),
                  decay_s=float(decay))  # fmt: skip


def ecg_template(sfreq_hz: float) -> tuple[np.ndarray, int]:
    """One PQRST complex (R peak 1 at the anchor): P 0.1, Q -0.1, R 1, S -0.25, T 0.25."""
    t = np.arange(-int(0.25 * sfreq_hz), int(0.45 * sfreq_hz)) / sfreq_hz
    wave = 0.1 * bump(t, -0.16, 0.025) - 0.1 * bump(t, -0.025, 0.008) + bump(t, 0.0, 0.01)
    wave += -0.25 * bump(t, 0.025, 0.01) + 0.25 * bump(t, 0.25, 0.045)
    return wave, int(0.25 * sfreq_hz)


def ecg_field() -> np.ndarray:
    """Far field (21,) of the heart: linear in position, rising to the left and downwards (axis ~60°)."""
    pos = site_positions_m()
    return -(pos[:, 0] + 0.5 * pos[:, 2]) / 0.09


def _beats_s(canvas: Canvas, rng: np.random.Generator) -> np.ndarray:
    """R-peak times (s) inside the record: RR at the subject's heart rate with 3 % beat-to-beat jitter."""
    rr = 60.0 / canvas.subject.heart_rate_bpm
    count = int(canvas.duration_s / rr) + 2
    beats = rng.uniform(0, rr) + np.cumsum(rr * (1.0 + 0.03 * rng.standard_normal(count)))
    return beats[beats < canvas.duration_s]


def heartbeats_s(canvas: Canvas) -> np.ndarray:
    """The subject's R-peak times (s): the same beats :func:`add_ecg` puts into the EEG (both are the first
    draws of the ``"ecg"`` stream), so the ECG lead and the cardiac artifact are locked as in a body."""
    return _beats_s(canvas, canvas.stream("ecg"))


def add_ecg(canvas: Canvas, spec: Spec | None = None) -> None:
    """ECG artifact: QRS complexes at the subject's heart rate, small, left-sided."""
    rng = canvas.stream("ecg")
    beats = _beats_s(canvas, rng)
    template, anchor = ecg_template(canvas.sfreq_hz)
    field = ecg_field()
    referenced = field[:N_SCALP] - field[list(EARS)].mean()
    amplitude = PARAMETERS["ecg_uv"].draw(rng) / (1.35 * np.abs(referenced).max())
    canvas.add_extracerebral(
        field, place(canvas.n_times, canvas.sfreq_hz, beats, amplitude, template, anchor)
    )
    channels = channels_over(referenced, 0.6)
    canvas.record(Finding("ecg_artifact", channels=channels, evidence=canvas.evidence([(0.0, canvas.duration_s)], channels)),
                  heart_rate_bpm=canvas.subject.heart_rate_bpm)  # fmt: skip


def ecg_lead_uv(canvas: Canvas) -> np.ndarray:
    """The recording's ECG lead (n_times,) µV: what the EKG electrodes on the chest record whether or not
    the heart's field reaches the scalp. R wave 0.5-1.5 mV of either polarity (lead placement varies),
    a 0.15-0.4 Hz respiratory baseline wander of 20-80 µV and 5-15 µV RMS of electrode/amplifier noise."""
    rng = canvas.stream("ecg-lead")
    template, anchor = ecg_template(canvas.sfreq_hz)
    r_uv = rng.uniform(500.0, 1500.0) * rng.choice([-1.0, 1.0])
    lead = place(canvas.n_times, canvas.sfreq_hz, heartbeats_s(canvas), r_uv, template, anchor)
    wander = rng.uniform(20.0, 80.0) * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * canvas.t_s + rng.uniform(0, 2 * np.pi))
    return lead + wander + rng.uniform(5.0, 15.0) * rng.standard_normal(canvas.n_times)


def add_line_noise(canvas: Canvas, spec: Spec | None = None) -> None:
    """Mains interference: a 50/60 Hz sinusoid (and a small third harmonic), worst at a few electrodes."""
    rng = canvas.stream("line")
    freq = spec.frequency_hz if spec is not None and spec.frequency_hz else canvas.subject.line_freq_hz
    weights = np.zeros(len(SITES))
    weights[:N_SCALP] = rng.lognormal(-2.0, 0.6, size=N_SCALP)
    bad = rng.choice(N_SCALP, size=int(rng.integers(1, 4)), replace=False)
    weights[bad] = 1.0
    t = canvas.t_s
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * freq * t + phase) + 0.1 * np.sin(2 * np.pi * 3 * freq * t + 3 * phase)
    if 3 * freq >= canvas.sfreq_hz / 2:
        wave = np.sin(2 * np.pi * freq * t + phase)
    canvas.add_extracerebral(weights, PARAMETERS["line_noise_uv"].draw(rng) * np.sqrt(2.0) * wave)
    channels = tuple(SITES[i] for i in sorted(bad))
    canvas.record(Finding("line_noise", frequency_hz=float(freq), channels=channels,
                          evidence=canvas.evidence([(0.0, canvas.duration_s)], channels)))  # fmt: skip
