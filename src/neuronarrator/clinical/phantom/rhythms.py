"""Normal rhythms and transients of wake and sleep: PDR, mu, beta, drowsiness, N1-N3, REM.

Each function paints one physiological feature into the epochs whose state carries it and records
the matching finding. Ranges are in :data:`~neuronarrator.clinical.phantom.subject.PARAMETERS`.

- PDR: a narrow-band Gaussian spectral peak at the subject's frequency; narrow-band noise waxes and
  wanes by itself over ~1/σ_f seconds, as alpha does. Left and right occipital sources share 85 % of
  their signal (alpha is coherent across the hemispheres) with the right slightly larger. Eye opening
  blocks it within ~0.3 s (reactivity); drowsiness fragments it (dropouts), N1 keeps < 50 % of it
  (AASM), deeper sleep none.
- N2: spindles (11-16 Hz, >= 0.5 s, central maximum) and K-complexes (negative sharp then positive,
  >= 0.5 s, frontal maximum); N1-N2: vertex waves (< 0.5 s, Cz); N3: > 20 % high-amplitude 0.5-2 Hz
  delta; REM: rapid eye movements at F7/F8, sawtooth waves, no PDR.
"""

from __future__ import annotations

import numpy as np

from neuronarrator.clinical.findings import Finding
from neuronarrator.clinical.phantom.canvas import Canvas, Spec
from neuronarrator.clinical.phantom.head import channels_over, eye_fields, gaussian_field
from neuronarrator.clinical.phantom.subject import PARAMETERS
from neuronarrator.clinical.phantom.waveforms import (
    event_times,
    flat_band,
    gaussian_band,
    half_gaussians,
    place,
    smooth_gate,
    spans_mask,
    spectral_noise,
)

P2P_PER_RMS_NARROW = 2.0 * np.sqrt(2.0)  # peak-to-peak of a sinusoid / its RMS
P2P_PER_RMS_BROAD = 5.0  # peak-to-peak read by eye on broadband activity / its RMS (about ±2.5 σ)

#: Share of time the PDR is on per state (drowsy: dropouts; N1: AASM "alpha < 50 % of the epoch").
PDR_DUTY = {"awake": 1.0, "drowsy": 0.6, "n1": 0.25}
#: PDR amplitude per state relative to wake.
PDR_STATE_GAIN = {"awake": 1.0, "drowsy": 0.7, "n1": 0.5}
#: Normal beta per state relative to wake: it falls in NREM sleep (Niedermeyer, sleep chapter).
BETA_STATE_GAIN = {"awake": 1.0, "drowsy": 1.0, "n1": 0.7, "n2": 0.5, "n3": 0.3, "rem": 0.7}
#: Spatial spread of the occipital alpha generators (σ, m): O1 -> P3 (6.3 cm) ~0.4, -> C3 ~0.03.
PDR_SIGMA_M = 0.045


def _on_off(rng: np.random.Generator, canvas: Canvas, duty: float, scale_s: float = 2.5) -> np.ndarray:
    """A smooth random on/off gate (n,) that is on about ``duty`` of the time, in runs of ~``scale_s``."""
    if duty >= 1.0:
        return np.ones(canvas.n_times)
    slow = spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, flat_band(0.0, 0.5 / scale_s, 0.05))[0]
    threshold = np.quantile(slow, 1.0 - duty)
    return smooth_gate(slow > threshold, canvas.sfreq_hz, 0.5)


def add_pdr(canvas: Canvas, spec: Spec | None = None) -> None:
    """The posterior dominant rhythm, its reactivity to eye opening, and its fate in drowsiness."""
    subject = canvas.subject
    rng = canvas.stream("pdr")
    frequency = spec.frequency_hz if spec is not None and spec.frequency_hz else subject.pdr_frequency_hz
    states = [s for s in PDR_DUTY if s in canvas.epoch_states]
    if not states:
        return
    n, sfreq = canvas.n_times, canvas.sfreq_hz
    shared, left, right = spectral_noise(rng, 3, n, sfreq, gaussian_band(frequency, subject.pdr_sigma_hz))
    coherence = 0.85
    rest = np.sqrt(1.0 - coherence**2)
    rms = subject.pdr_amplitude_uv / P2P_PER_RMS_NARROW
    envelope = np.zeros(n)
    for state in states:
        duty_gate = _on_off(canvas.stream(f"pdr-duty-{state}"), canvas, PDR_DUTY[state])
        envelope += canvas.state_gate(state) * PDR_STATE_GAIN[state] * duty_gate
    blocked = smooth_gate(canvas.eyes_open_mask(), sfreq, 0.3)  # alpha blocking within ~0.3 s of eye opening
    envelope *= 1.0 - (1.0 - subject.pdr_eyes_open_residual) * blocked
    field_left, field_right = gaussian_field("O1", PDR_SIGMA_M), gaussian_field("O2", PDR_SIGMA_M)
    canvas.add_cortical(field_left, rms * envelope * (coherence * shared + rest * left))
    canvas.add_cortical(
        field_right * subject.pdr_right_over_left, rms * envelope * (coherence * shared + rest * right)
    )

    channels = channels_over(field_left + field_right, 0.35)  # O1, O2, P3, Pz, P4
    awake = canvas.state_spans(("awake", "drowsy"))
    closed = [(s, e) for s, e in _complement(canvas.eyes_open_s, awake)]
    pdr = Finding(
        "pdr",
        frequency_hz=round(float(frequency), 2),
        channels=channels,
        evidence=canvas.evidence(closed, channels),
    )
    canvas.record(pdr, frequency_hz=float(frequency), amplitude_uv=subject.pdr_amplitude_uv)
    if pdr.evidence and canvas.eyes_open_s:
        reactive = Finding(
            "pdr_reactive", channels=channels, evidence=canvas.evidence(canvas.eyes_open_s, channels)
        )
        canvas.record(reactive, residual_fraction=subject.pdr_eyes_open_residual)


def _complement(
    holes: tuple[tuple[float, float], ...], spans: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``spans`` minus ``holes`` (both lists of (start, end))."""
    out = []
    for start, end in spans:
        cursor = start
        for h0, h1 in sorted(holes):
            if h1 <= cursor or h0 >= end:
                continue
            if h0 > cursor:
                out.append((cursor, h0))
            cursor = max(cursor, h1)
        if cursor < end:
            out.append((cursor, end))
    return out


def add_mu_and_beta(canvas: Canvas) -> None:
    """Normal frontocentral beta (every state) and, in some subjects, the central mu rhythm (wake)."""
    subject = canvas.subject
    rng = canvas.stream("beta")
    beta = spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, flat_band(16.0, 25.0, 2.0))[0]
    gate = sum(gain * canvas.state_gate(s) for s, gain in BETA_STATE_GAIN.items() if s in canvas.epoch_states)
    canvas.add_cortical(gaussian_field("Fz", 0.08), subject.beta_rms_uv * gate * beta)
    if subject.mu_amplitude_uv > 0 and "awake" in canvas.epoch_states:
        rng = canvas.stream("mu")
        sources = spectral_noise(
            rng, 2, canvas.n_times, canvas.sfreq_hz, gaussian_band(subject.mu_frequency_hz, 0.4)
        )
        arch = sources + 0.35 * (
            sources**2 - 1.0
        )  # the arciform (wicket-like) shape: a phase-locked harmonic
        gate = canvas.state_gate("awake") * _on_off(rng, canvas, 0.4, 3.0)
        rms = subject.mu_amplitude_uv / P2P_PER_RMS_NARROW
        for centre, row in (("C3", arch[0]), ("C4", arch[1])):
            canvas.add_cortical(gaussian_field(centre, 0.035), rms * gate * row)
        canvas.notes["mu_rhythm"] = {
            "frequency_hz": round(subject.mu_frequency_hz, 2),
            "amplitude_uv": subject.mu_amplitude_uv,
        }


def add_state_theta(canvas: Canvas) -> None:
    """Diffuse frontocentral theta of drowsiness, N1, N2 and REM (low-amplitude mixed frequency)."""
    gains = {"drowsy": 0.6, "n1": 1.0, "n2": 1.0, "rem": 0.8}
    present = [s for s in gains if s in canvas.epoch_states]
    if not present:
        return
    rng = canvas.stream("theta")
    amplitude = PARAMETERS["drowsy_theta_uv"].draw(rng)
    theta = spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, flat_band(4.0, 7.0, 1.0))[0]
    gate = sum(gains[s] * canvas.state_gate(s) for s in present)
    canvas.add_cortical(gaussian_field("Cz", 0.09), amplitude / P2P_PER_RMS_BROAD * gate * theta)


def add_slow_eye_movements(canvas: Canvas) -> None:
    """Slow roving lateral eye movements of drowsiness and N1 (AASM: initial deflection > 500 ms)."""
    spans = canvas.state_spans(("drowsy", "n1"))
    if not spans:
        return
    rng = canvas.stream("sem")
    freq = PARAMETERS["slow_eye_movement_hz"].draw(rng)
    amplitude = PARAMETERS["slow_eye_movement_uv"].draw(rng)
    wave = spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, gaussian_band(freq, 0.05))[0]
    gate = canvas.state_gate(("drowsy", "n1"))
    _, horizontal = eye_fields()
    canvas.add_extracerebral(horizontal, amplitude / P2P_PER_RMS_NARROW * gate * wave)
    canvas.record(
        Finding(
            "eye_movement_artifact", channels=("F7", "F8"), evidence=canvas.evidence(spans, ("F7", "F8"))
        ),
        slow_eye_movement_hz=float(freq),
    )


def _transients_in(
    canvas: Canvas,
    rng: np.random.Generator,
    states: tuple[str, ...],
    per_min: float,
    min_gap_s: float,
    required: bool = False,
) -> np.ndarray:
    """Random times inside epochs of ``states`` at ``per_min`` per minute; at least one if ``required``."""
    times = event_times(rng, canvas.duration_s, 60.0 / per_min, min_gap_s)
    spans = canvas.state_spans(states)
    inside = spans_mask(canvas.n_times, canvas.sfreq_hz, spans)
    times = times[inside[np.clip((times * canvas.sfreq_hz).astype(int), 0, canvas.n_times - 1)]]
    if required and times.size == 0 and spans:
        start, end = max(spans, key=lambda s: s[1] - s[0])
        times = np.array([rng.uniform(start + 0.3 * (end - start), end - 0.3 * (end - start))])
    return times


def add_vertex_waves(canvas: Canvas, spec: Spec | None = None) -> None:
    """Vertex sharp waves of N1 and N2: surface-negative, < 0.5 s, maximal at Cz."""
    rng = canvas.stream("vertex")
    times = _transients_in(
        canvas, rng, ("n1", "n2"), PARAMETERS["vertex_wave_per_min"].draw(rng), 4.0, spec is not None
    )
    if times.size == 0:
        return
    sfreq = canvas.sfreq_hz
    main, anchor = half_gaussians(sfreq, 0.035, 0.06)
    tail = np.zeros(main.size + int(0.25 * sfreq))
    tail[: main.size] -= main
    t = (np.arange(tail.size) - anchor) / sfreq
    tail += 0.3 * np.exp(-0.5 * ((t - 0.16) / 0.05) ** 2)  # the small positive phase after the sharp wave
    amplitude = PARAMETERS["vertex_wave_uv"].draw(rng, size=times.size) / 1.3
    field = gaussian_field("Cz", 0.045)
    canvas.add_cortical(field, place(canvas.n_times, sfreq, times, amplitude, tail, anchor))
    channels = channels_over(field)
    spans = [(t0 - 0.15, t0 + 0.3) for t0 in times]
    canvas.record(Finding("vertex_waves", channels=channels, evidence=canvas.evidence(spans, channels)))


def add_spindles(canvas: Canvas, spec: Spec | None = None) -> None:
    """Sleep spindles of N2 (and fewer in N3): 11-16 Hz, 0.5-2 s, waxing-waning, central maximum."""
    rng = canvas.stream("spindles")
    per_min = PARAMETERS["spindle_per_min"].draw(rng)
    times = np.concatenate([
        _transients_in(canvas, rng, ("n2",), per_min, 3.0, spec is not None), _transients_in(canvas, rng, ("n3",), per_min / 3, 3.0)
    ])  # fmt: skip
    if times.size == 0:
        return
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    base = (
        spec.frequency_hz
        if spec is not None and spec.frequency_hz
        else PARAMETERS["spindle_frequency_hz"].draw(rng)
    )
    freqs = base + rng.uniform(-0.4, 0.4, size=times.size)
    durations = PARAMETERS["spindle_duration_s"].draw(rng, size=times.size)
    amplitudes = PARAMETERS["spindle_amplitude_uv"].draw(rng, size=times.size) / 2.0
    phases = rng.uniform(0, 2 * np.pi, size=times.size)
    wave = np.zeros(n)
    t = canvas.t_s
    for t0, dur, f, a, ph in zip(
        times, durations, freqs, amplitudes, phases, strict=True
    ):  # one slice per event
        i0, i1 = max(0, int((t0 - dur / 2) * sfreq)), min(n, int((t0 + dur / 2) * sfreq))
        local = (t[i0:i1] - (t0 - dur / 2)) / dur
        wave[i0:i1] += a * np.sin(np.pi * np.clip(local, 0, 1)) ** 2 * np.cos(2 * np.pi * f * t[i0:i1] + ph)
    # Three coherent central generators (C3, Cz, C4): a central field with the gradients that make
    # spindles stand out in F3-C3 / C3-P3 of the double banana, as they do in real recordings.
    field = sum(gaussian_field(c, 0.04) for c in ("C3", "Cz", "C4"))
    field /= field.max()
    canvas.add_cortical(field, wave)
    channels = channels_over(field)
    spans = [(t0 - d / 2, t0 + d / 2) for t0, d in zip(times, durations, strict=True)]
    finding = Finding("sleep_spindles", frequency_hz=round(float(freqs.mean()), 2), channels=channels,
                      evidence=canvas.evidence(spans, channels))  # fmt: skip
    canvas.record(finding, per_min=float(per_min))


def add_k_complexes(canvas: Canvas, spec: Spec | None = None) -> None:
    """K-complexes of N2: a negative sharp wave then a positive component, >= 0.5 s, frontal maximum."""
    rng = canvas.stream("k-complexes")
    times = _transients_in(
        canvas, rng, ("n2",), PARAMETERS["k_complex_per_min"].draw(rng), 8.0, spec is not None
    )
    if times.size == 0:
        return
    sfreq = canvas.sfreq_hz
    t = np.arange(-int(0.3 * sfreq), int(1.2 * sfreq)) / sfreq
    template = -np.where(t < 0, np.exp(-0.5 * (t / 0.08) ** 2), np.exp(-0.5 * (t / 0.13) ** 2))
    template += 0.65 * np.exp(-0.5 * ((t - 0.42) / 0.16) ** 2)  # the positive component
    template /= np.ptp(template)
    amplitude = PARAMETERS["k_complex_uv"].draw(rng, size=times.size)
    # Frontal generators (F3, Fz, F4): maximal frontally (AASM) with the anterior-posterior gradient
    # that makes K-complexes phase-reverse around F3/F4 in the double banana.
    field = sum(gaussian_field(c, 0.05) for c in ("F3", "Fz", "F4"))
    field /= field.max()
    canvas.add_cortical(field, place(canvas.n_times, sfreq, times, amplitude, template, int(0.3 * sfreq)))
    channels = channels_over(field)
    spans = [(t0 - 0.25, t0 + 0.8) for t0 in times]
    canvas.record(Finding("k_complexes", channels=channels, evidence=canvas.evidence(spans, channels)))


def add_n3_delta(canvas: Canvas) -> None:
    """N3 slow waves: 0.5-2 Hz, > 75 µV p-p frontally, well over 20 % of each epoch."""
    if "n3" not in canvas.epoch_states:
        return
    rng = canvas.stream("n3")
    freq = PARAMETERS["n3_delta_hz"].draw(rng)
    amplitude = PARAMETERS["n3_delta_uv"].draw(rng)
    wave = spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, gaussian_band(freq, 0.3))[0]
    canvas.add_cortical(
        gaussian_field("Fz", 0.09), amplitude / P2P_PER_RMS_NARROW * canvas.state_gate("n3") * wave
    )
    canvas.notes["n3"] = {"delta_hz": round(float(freq), 2), "amplitude_uv": round(float(amplitude), 1)}


def add_rem(canvas: Canvas) -> None:
    """REM sleep: bursts of rapid conjugate eye movements (F7/F8 opposite) and central sawtooth waves."""
    spans = canvas.state_spans("rem")
    if not spans:
        return
    rng = canvas.stream("rem")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    times = _transients_in(canvas, rng, ("rem",), 20.0, 0.6)
    amplitude = PARAMETERS["rem_uv"].draw(rng, size=times.size) * rng.choice([-1.0, 1.0], size=times.size)
    hold = rng.uniform(0.2, 0.8, size=times.size)
    t = canvas.t_s
    # Each REM: a saccade (~70 ms rise: the < 500 ms initial deflection of AASM) held, then a slower return.
    wave = np.zeros(n)
    for t0, a, h in zip(times, amplitude, hold, strict=True):
        i0, i1 = int(max(0.0, t0 - 0.1) * sfreq), int(min(canvas.duration_s, t0 + h + 0.6) * sfreq)
        local = t[i0:i1] - t0
        wave[i0:i1] += a / 2 * (np.tanh(local / 0.035) - np.tanh((local - h) / 0.1))
    vertical, horizontal = eye_fields()
    canvas.add_extracerebral(horizontal + 0.3 * vertical, wave)
    # Sawtooth waves: 2-6 Hz triangular trains at the vertex.
    freq = PARAMETERS["sawtooth_hz"].draw(rng)
    phase = 2 * np.pi * freq * t
    saw = 2.0 * np.abs(((phase / (2 * np.pi)) % 1.0) - 0.5) - 0.5  # a triangle wave, ±0.5
    gate = canvas.state_gate("rem") * _on_off(rng, canvas, 0.3, 2.0)
    canvas.add_cortical(gaussian_field("Cz", 0.06), PARAMETERS["sawtooth_uv"].draw(rng) * gate * saw)
    canvas.record(Finding("eye_movement_artifact", channels=("F7", "F8"),
                          evidence=canvas.evidence([(t0 - 0.1, t0 + h + 0.3) for t0, h in zip(times, hold, strict=True)],
                                                   ("F7", "F8"))))  # fmt: skip
