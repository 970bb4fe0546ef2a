"""Epileptiform patterns: focal spikes and sharp waves, generalized spike-and-wave, LPDs, GPDs, seizures.

Polarity is surface-negative for spikes, as nearly all scalp interictal discharges are (E&P ch. 12).
A focal discharge is a Gaussian field around its electrode (σ 3-4 cm: it shows at 2-3 electrodes);
its negative maximum at, say, T7 makes F7-T7 go positive and T7-P7 negative at the same instant: the
phase reversal by which an electroencephalographer localizes it in the double banana.

Morphology (IFCN 2017 glossary; ACNS 2021):
- spike: 20-< 70 ms, sharp wave: 70-200 ms; both usually followed by a slow wave;
- 3 Hz spike-and-wave: spike, then a surface-negative slow wave, 3-4 Hz at onset slowing to ~2.5-3 Hz,
  bilaterally synchronous, frontal maximum (Niedermeyer, absence epilepsy);
- periodic discharges (LPD, GPD): repeating waveforms with a quantifiable, fairly uniform interval;
  triphasic GPDs: a small negative, a dominant positive, a slow negative phase, with an
  anterior-to-posterior lag (ACNS 2021 "triphasic morphology");
- seizures (ACNS 2021): > 2.5 Hz for >= 10 s, or definite evolution in frequency, morphology or
  location. The phantom's focal seizure does all three: low-voltage fast onset, rhythmic theta that
  slows to delta while it grows and spreads, an abrupt end, then postictal slowing.
"""

from __future__ import annotations

import numpy as np

from neuronarrator.clinical.findings import Finding
from neuronarrator.clinical.phantom.abnormal import (
    MAX_FRACTION,
    VISIBLE_FRACTION,
    focal_centres,
    side_and_regions,
)
from neuronarrator.clinical.phantom.canvas import Canvas, Spec
from neuronarrator.clinical.phantom.head import (
    channels_over,
    gaussian_field,
    gaussian_fields,
    site_positions_m,
)
from neuronarrator.clinical.phantom.subject import PARAMETERS
from neuronarrator.clinical.phantom.waveforms import (
    at_least_one,
    bump,
    chirp_phase,
    event_times,
    flat_band,
    place,
    sharpened,
    spectral_noise,
)


def spike_template(sfreq_hz: float, duration_s: float, slow_wave: float = 0.45) -> tuple[np.ndarray, int]:
    """A focal spike or sharp wave (negative peak -1) with its after-going slow wave.

    The main component's base spans ``duration_s``: a steeper rise than fall (2σ_rise + 2σ_fall =
    duration), a small positive phase before and after, then a surface-negative slow wave of
    ``slow_wave`` times the peak, ~200 ms wide.
    """
    rise, fall = 0.2 * duration_s, 0.3 * duration_s
    t = np.arange(-int(0.15 * sfreq_hz), int((duration_s + 0.45) * sfreq_hz)) / sfreq_hz
    wave = -np.where(t < 0, bump(t, 0.0, rise), bump(t, 0.0, fall))
    wave += 0.12 * bump(t, -2.2 * rise, rise) + 0.25 * bump(t, 2.5 * fall, 1.2 * fall)
    wave -= slow_wave * bump(t, 2.5 * fall + 0.15, 0.06)
    wave /= -wave.min()
    return wave, int(np.flatnonzero(t == 0)[0]) if np.any(t == 0) else int(np.argmin(np.abs(t)))


def add_focal_epileptiform(canvas: Canvas, spec: Spec) -> None:
    """Focal interictal spikes or sharp waves (one morphology per focus) at a few per minute."""
    rng = canvas.stream(f"focal_epileptiform-{spec.side}-{'+'.join(spec.regions)}")
    side, regions = side_and_regions(canvas, spec)
    kind = "spike" if rng.random() < 0.5 else "sharp"
    duration = PARAMETERS[f"{kind}_duration_s"].draw(rng)
    sigma = PARAMETERS["spike_sigma_m"].draw(rng)
    times = at_least_one(
        event_times(rng, canvas.duration_s, 60.0 / PARAMETERS["spike_per_min"].draw(rng), 1.5),
        rng,
        canvas.duration_s,
    )
    amplitudes = PARAMETERS["spike_uv"].draw(rng, size=times.size) / 1.3
    template, anchor = spike_template(canvas.sfreq_hz, duration)
    wave = place(canvas.n_times, canvas.sfreq_hz, times, amplitudes, template, anchor)
    field = sum(gaussian_field(c, sigma) for c in focal_centres(side, regions))
    canvas.add_cortical(field, wave)
    spans = [(t0 - 0.1, t0 + duration + 0.35) for t0 in times]
    finding = Finding("focal_epileptiform", side=side, regions=regions, channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(spans, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(
        finding, morphology=kind, duration_s=float(duration), peak_times_s=[round(t, 3) for t in times]
    )


def add_generalized_spike_wave(canvas: Canvas, spec: Spec) -> None:
    """Bursts of generalized ~3 Hz spike-and-wave, frontally maximal, slowing slightly within a burst."""
    rng = canvas.stream("generalized_spike_wave")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    freq = spec.frequency_hz or PARAMETERS["spike_wave_hz"].draw(rng)
    burst = PARAMETERS["spike_wave_burst_s"]
    starts = at_least_one(event_times(rng, canvas.duration_s, 15.0, burst.high + 3.0, margin_s=1.0), rng,
                           canvas.duration_s, 1.0)  # fmt: skip
    lengths = np.minimum(burst.draw(rng, size=starts.size), canvas.duration_s - 0.5 - starts)
    cycle_times, cycle_amps, spans = [], [], []
    for start, length in zip(starts, lengths, strict=True):  # one short loop per burst
        tt = start + np.arange(int(length * sfreq)) / sfreq
        inst = np.linspace(freq + 0.4, freq - 0.3, tt.size)  # 3.4 Hz at onset slowing to 2.7 Hz (freq 3)
        cycles = np.cumsum(inst) / sfreq
        onsets = tt[np.searchsorted(cycles, np.arange(0.0, cycles[-1]))]
        cycle_times.append(onsets)
        cycle_amps.append(
            np.minimum(1.0, 0.6 + (onsets - start) / 0.6) * rng.uniform(0.85, 1.0, size=onsets.size)
        )
        spans.append((start - 0.1, start + length + 0.3))
    amplitude = PARAMETERS["spike_wave_uv"].draw(rng)
    times, amps = np.concatenate(cycle_times), amplitude * np.concatenate(cycle_amps)
    t = np.arange(-int(0.1 * sfreq), int(0.4 * sfreq)) / sfreq
    # The spike (~60 ms, steep rise) and its positive after-phase have a more focal frontocentral field
    # than the surface-negative dome of the wave, which is broad and frontal: two fields, one rhythm.
    spike = -np.where(t < 0, bump(t, 0.0, 0.01), bump(t, 0.0, 0.018)) + 0.35 * bump(t, 0.07, 0.03)
    wave = -bump(t, 0.2, 0.065)
    scale = 1.0 / np.ptp(0.7 * spike + wave)
    anchor = int(0.1 * sfreq)
    spike_field, wave_field = gaussian_field("Fz", 0.06), gaussian_field("Fz", 0.1)
    canvas.add_cortical(spike_field, place(n, sfreq, times, amps * 0.7 * scale, spike, anchor))
    canvas.add_cortical(wave_field, place(n, sfreq, times, amps * scale, wave, anchor))
    field = wave_field
    finding = Finding("generalized_spike_wave", side="generalized", frequency_hz=round(float(freq), 2),
                      channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(spans, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, amplitude_uv=float(amplitude))


def _periodic_times(
    rng: np.random.Generator, duration_s: float, freq_hz: float, jitter: float = 0.1
) -> np.ndarray:
    """Discharge times at ``freq_hz`` with ±``jitter`` relative interval variation (periodic: < 50 %)."""
    count = int(duration_s * freq_hz) + 2
    intervals = (1.0 / freq_hz) * (1.0 + jitter * rng.uniform(-1, 1, size=count))
    times = rng.uniform(0.2, 1.0 / freq_hz) + np.concatenate([[0.0], np.cumsum(intervals[:-1])])
    return times[times < duration_s - 0.3]


def add_lpd(canvas: Canvas, spec: Spec) -> None:
    """Lateralized periodic discharges (~1 Hz), sharply contoured, over one hemisphere's region."""
    rng = canvas.stream("lpd")
    side, regions = side_and_regions(canvas, spec)
    freq = spec.frequency_hz or PARAMETERS["pd_hz"].draw(rng)
    times = _periodic_times(rng, canvas.duration_s, freq)
    template, anchor = spike_template(canvas.sfreq_hz, rng.uniform(0.1, 0.2), slow_wave=0.6)
    amplitudes = PARAMETERS["pd_uv"].draw(rng) / 1.4 * rng.uniform(0.8, 1.0, size=times.size)
    field = sum(gaussian_field(c, 0.06) for c in focal_centres(side, regions))
    canvas.add_cortical(field, place(canvas.n_times, canvas.sfreq_hz, times, amplitudes, template, anchor))
    span = [(max(0.0, times[0] - 0.2), min(canvas.duration_s, times[-1] + 0.6))]
    finding = Finding("lpd", side=side, regions=regions, frequency_hz=round(float(freq), 2),
                      channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(span, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, n_discharges=int(times.size))


def add_gpd(canvas: Canvas, spec: Spec) -> None:
    """Generalized periodic discharges, triphasic with an anterior-posterior lag in half of the cases."""
    rng = canvas.stream("gpd")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    freq = spec.frequency_hz or PARAMETERS["gpd_hz"].draw(rng)
    triphasic = bool(rng.random() < 0.5)
    times = _periodic_times(rng, canvas.duration_s, freq)
    t = np.arange(-int(0.15 * sfreq), int(0.5 * sfreq)) / sfreq
    if triphasic:  # negative - dominant positive - slow negative
        template = -0.35 * bump(t, -0.05, 0.025) + 1.0 * bump(t, 0.03, 0.045) - 0.55 * bump(t, 0.17, 0.07)
    else:  # a blunt sharp wave with an after-going slow wave
        template = -1.0 * bump(t, 0.0, 0.04) - 0.4 * bump(t, 0.2, 0.08) + 0.2 * bump(t, 0.08, 0.04)
    template /= np.ptp(template)
    amplitudes = PARAMETERS["gpd_uv"].draw(rng) * rng.uniform(0.85, 1.0, size=times.size)
    wave = place(n, sfreq, times, amplitudes, template, int(0.15 * sfreq))
    # Frontally predominant (triphasic) or vertex-centred, broad but with the anterior-posterior gradient
    # that makes GPDs stand out in the double banana.
    field = gaussian_field("Fz", 0.065) if triphasic else gaussian_field("Cz", 0.07)
    y = site_positions_m()[:, 1]
    lag = PARAMETERS["triphasic_lag_s"].draw(rng) if triphasic else 0.0
    delays = lag * (y.max() - y) / (y.max() - y.min())  # frontal first, occipital last
    freqs = np.fft.rfftfreq(n, d=1.0 / sfreq)
    shifted = np.fft.irfft(
        np.fft.rfft(wave)[None, :] * np.exp(-2j * np.pi * freqs[None, :] * delays[:, None]), n=n
    )
    canvas.cortical += field[:, None] * shifted
    span = [(max(0.0, times[0] - 0.2), min(canvas.duration_s, times[-1] + 0.6))]
    finding = Finding("gpd", side="generalized", frequency_hz=round(float(freq), 2),
                      channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(span, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, triphasic=triphasic, anterior_posterior_lag_s=float(lag))


def add_seizure(canvas: Canvas, spec: Spec) -> None:
    """A focal seizure that evolves in frequency, amplitude and field, followed by postictal slowing."""
    rng = canvas.stream(f"seizure-{spec.side}-{'+'.join(spec.regions)}")
    sfreq = canvas.sfreq_hz
    side, regions = side_and_regions(canvas, spec)
    if side == "bilateral":
        side = "left"
    available = canvas.duration_s - 4.0
    if available < 10.0:
        raise ValueError(
            f"a seizure lasts >= 10 s (ACNS 2021): the record needs >= 14 s, got {canvas.duration_s:g} s"
        )
    duration = float(min(PARAMETERS["seizure_duration_s"].draw(rng), available))
    onset = float(rng.uniform(1.0, canvas.duration_s - duration - 3.0))
    i0, i1 = int(onset * sfreq), int((onset + duration) * sfreq)
    tau = np.arange(i1 - i0) / (i1 - i0)  # 0..1 through the seizure
    t = tau * duration
    fast_s = rng.uniform(1.5, 3.0)
    fast_hz = PARAMETERS["seizure_onset_hz"].draw(rng)
    start_hz, end_hz = PARAMETERS["seizure_start_hz"].draw(rng), PARAMETERS["seizure_end_hz"].draw(rng)
    peak_uv = PARAMETERS["seizure_uv"].draw(rng)

    # Onset: low-voltage fast activity at the focus, 10 -> 30 µV.
    fast_gate = np.clip(1.0 - (t - fast_s) / 0.8, 0.0, 1.0)
    fast = (
        (5.0 + 10.0 * np.clip(t / fast_s, 0, 1))
        * fast_gate
        * np.sin(chirp_phase(np.full(t.size, fast_hz), sfreq))
    )
    # Rhythmic phase: frequency falls geometrically start -> end, amplitude and sharpness rise, field spreads.
    rhythm_tau = np.clip((t - fast_s) / (duration - fast_s), 0.0, 1.0)
    wander = spectral_noise(
        rng, 2, t.size, sfreq, flat_band(0.0, 0.4, 0.2)
    )  # ictal rhythms are not metronomes
    freq = start_hz * (end_hz / start_hz) ** rhythm_tau * (1.0 + 0.04 * wander[0])
    rise = np.clip((t - fast_s + 0.8) / 0.8, 0.0, 1.0)
    fall = np.clip((duration - t) / 0.4, 0.0, 1.0)  # seizures end abruptly
    envelope = peak_uv / 2.0 * (0.2 + 0.8 * rhythm_tau**0.8) * rise * fall * (1.0 + 0.2 * wander[1])
    rhythm = envelope * sharpened(chirp_phase(freq, sfreq, rng.uniform(0, 2 * np.pi)), 0.2 + 0.6 * rhythm_tau)
    sigma = 0.03 + 0.045 * rhythm_tau
    centre = focal_centres(side, regions)[0]
    fields = gaussian_fields(centre, sigma)
    focus_field = gaussian_field(centre, 0.03)
    final = fields[:, -1]
    # The background under the discharge is replaced by it; afterwards the involved cortex is quiet,
    # then slow (postictal attenuation and polymorphic delta, decaying over ~10 s).
    post_s = min(20.0, canvas.duration_s - onset - duration)
    j1 = min(canvas.n_times, i1 + int(post_s * sfreq))
    after = np.arange(j1 - i1) / sfreq
    quiet = np.concatenate([np.full(i1 - i0, 0.4), 1.0 - 0.7 * np.exp(-after / 4.0)])
    involved = np.concatenate([fields[:, :], np.repeat(final[:, None], j1 - i1, axis=1)], axis=1)
    canvas.cortical[:, i0:j1] *= 1.0 - involved * (1.0 - quiet[None, :])
    canvas.cortical[:, i0:i1] += focus_field[:, None] * fast[None, :] + fields * rhythm[None, :]
    if j1 > i1:
        delta = spectral_noise(rng, 1, j1 - i1, sfreq, flat_band(0.8, 3.0, 0.5))[0]
        post_uv = 0.35 * peak_uv / 4.0  # postictal delta: about a third of the ictal peak
        canvas.cortical[:, i1:j1] += (
            gaussian_field(centre, 0.05)[:, None] * (post_uv * np.exp(-after / 8.0) * delta)[None, :]
        )
    # Evidence in thirds, each with the channels the discharge reaches by the end of it: the spread.
    thirds = [(onset + k * duration / 3, onset + (k + 1) * duration / 3) for k in range(3)]
    evidence = tuple(
        e for k, span in enumerate(thirds)
        for e in canvas.evidence([span], channels_over(fields[:, min(fields.shape[1] - 1, (k + 1) * fields.shape[1] // 3)],
                                                       VISIBLE_FRACTION))
    )  # fmt: skip
    finding = Finding("seizure", side=side, regions=regions, frequency_hz=round(float(start_hz), 2),
                      channels=channels_over(final, MAX_FRACTION), evidence=evidence)  # fmt: skip
    canvas.record(finding, onset_s=onset, duration_s=duration, onset_fast_hz=float(fast_hz), start_hz=float(start_hz),
                  end_hz=float(end_hz), peak_uv=float(peak_uv), centre=centre)  # fmt: skip
    canvas.event(onset, duration, "seizure")
