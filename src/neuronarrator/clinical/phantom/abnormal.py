"""Abnormal background patterns that are not epileptiform: slowing, asymmetry, excess beta, rhythmic
delta (LRDA, GRDA) and burst suppression.

Definitions follow ACNS 2021 (rhythmic = uniform waves without an interval, >= 6 cycles; suppression
< 10 µV; burst suppression = 50-99 % of the record suppressed) and the textbook descriptions of
polymorphic delta (E&P ch. 10-11): arrhythmic, irregular 1-4 Hz waves, continuous over a lobe for a
focal lesion, diffuse for an encephalopathy. Ranges and sources are in
:data:`~neuronarrator.clinical.phantom.subject.PARAMETERS`.
"""

from __future__ import annotations

import numpy as np

from neuronarrator.clinical.findings import Finding
from neuronarrator.clinical.phantom.background import spatial_mixing
from neuronarrator.clinical.phantom.canvas import Canvas, Spec
from neuronarrator.clinical.phantom.head import (
    SITES,
    channels_over,
    gaussian_field,
    hemisphere_gain,
    mirror,
    region_centre,
)
from neuronarrator.clinical.phantom.rhythms import P2P_PER_RMS_BROAD
from neuronarrator.clinical.phantom.subject import PARAMETERS
from neuronarrator.clinical.phantom.waveforms import (
    chirp_phase,
    flat_band,
    power_law,
    sharpened,
    smooth_gate,
    spans_mask,
    spectral_noise,
)

#: A finding's ``channels`` are where its field is at least this fraction of its maximum; its
#: evidence channels, where it is visible (a quarter of the maximum).
MAX_FRACTION, VISIBLE_FRACTION = 0.5, 0.25


def side_and_regions(
    canvas: Canvas, spec: Spec, default_regions: tuple[str, ...] = ("temporal",)
) -> tuple[str, tuple[str, ...]]:
    """The spec's side and regions, drawn when absent (side uniformly left/right)."""
    side = spec.side
    if side in (None, "generalized"):
        side = "left" if canvas.stream(f"side-{spec.code}").random() < 0.5 else "right"
    return side, tuple(spec.regions) or default_regions


def focal_centres(side: str, regions: tuple[str, ...]) -> list[str]:
    """Field centres for a side: one electrode, or two homologous ones when ``bilateral``."""
    centre = region_centre(side, regions)
    return [centre, mirror(centre)] if side == "bilateral" else [centre]


def whole_record(canvas: Canvas) -> list[tuple[float, float]]:
    return [(0.0, canvas.duration_s)]


def add_generalized_slowing(canvas: Canvas, spec: Spec) -> None:
    """Diffuse polymorphic theta/delta: widely correlated irregular 1-7 Hz activity over every region."""
    rng = canvas.stream("generalized_slowing")
    peak = PARAMETERS["generalized_slowing_hz"].draw(rng)
    amplitude = PARAMETERS["generalized_slowing_uv"].draw(rng)
    low, high = max(1.0, peak - 2.0), peak + 1.0
    band = flat_band(low, high, 0.8)
    sources = spectral_noise(
        rng, len(SITES), canvas.n_times, canvas.sfreq_hz, lambda f: band(f) * power_law(1.0, 0.5)(f)
    )
    waves = spatial_mixing(0.2, 0.05) @ sources  # long correlation length: a diffuse, bilateral field
    waves[-2:] *= 0.6  # the ears see less of the cortex
    canvas.cortical += amplitude / P2P_PER_RMS_BROAD * waves
    channels = tuple(SITES[:19])
    canvas.record(Finding("generalized_slowing", side="generalized", evidence=canvas.evidence(whole_record(canvas), channels)),
                  dominant_hz=float(peak), amplitude_uv=float(amplitude))  # fmt: skip


def add_focal_slowing(canvas: Canvas, spec: Spec) -> None:
    """Focal polymorphic delta (1-4 Hz), continuous, over a lobe of one side."""
    rng = canvas.stream("focal_slowing")
    side, regions = side_and_regions(canvas, spec)
    amplitude = PARAMETERS["focal_slowing_uv"].draw(rng)
    sigma = PARAMETERS["focal_slowing_sigma_m"].draw(rng)
    centres = focal_centres(side, regions)
    band = flat_band(1.0, 4.0, 0.5)
    sources = spectral_noise(
        rng, len(centres), canvas.n_times, canvas.sfreq_hz, lambda f: band(f) * power_law(1.0, 0.5)(f)
    )
    field_total = np.zeros(len(SITES))
    for centre, source in zip(centres, sources, strict=True):
        field = gaussian_field(centre, sigma)
        canvas.add_cortical(field, amplitude / P2P_PER_RMS_BROAD * source)
        field_total += field
    finding = Finding("focal_slowing", side=side, regions=regions, channels=channels_over(field_total, MAX_FRACTION),
                      evidence=canvas.evidence(whole_record(canvas), channels_over(field_total, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, centre=centres[0], amplitude_uv=float(amplitude), sigma_m=float(sigma))


def apply_asymmetry(canvas: Canvas, spec: Spec) -> None:
    """Amplitude asymmetry: all cortical activity over the lower side scaled down (side = the lower one)."""
    rng = canvas.stream("asymmetry")
    side = spec.side if spec.side in ("left", "right") else ("left" if rng.random() < 0.5 else "right")
    gain = PARAMETERS["asymmetry_gain"].draw(rng)
    gains = hemisphere_gain(side, gain)
    canvas.cortical *= gains[:, None]
    lower = tuple(SITES[i] for i in range(19) if gains[i] < 0.75)
    canvas.record(Finding("asymmetry", side=side, regions=tuple(spec.regions), channels=lower,
                          evidence=canvas.evidence(whole_record(canvas), lower)), gain=float(gain))  # fmt: skip


def add_excess_beta(canvas: Canvas, spec: Spec) -> None:
    """Diffuse excess beta (often a benzodiazepine or barbiturate effect): 18-25 Hz, > 25 µV, frontocentral."""
    rng = canvas.stream("excess_beta")
    freq = spec.frequency_hz or PARAMETERS["excess_beta_hz"].draw(rng)
    amplitude = PARAMETERS["excess_beta_uv"].draw(rng)
    sources = spectral_noise(rng, 2, canvas.n_times, canvas.sfreq_hz, flat_band(freq - 2.0, freq + 2.0, 1.0))
    field = gaussian_field("Fz", 0.09)
    rms = amplitude / 3.5  # waxing-waning narrow-band activity
    canvas.add_cortical(field * _left_weights(), rms * sources[0])
    canvas.add_cortical(field * (1.0 - _left_weights()), rms * sources[1])
    channels = channels_over(field, MAX_FRACTION)
    canvas.record(Finding("excess_beta", frequency_hz=round(float(freq), 1), channels=channels,
                          evidence=canvas.evidence(whole_record(canvas), channels_over(field, VISIBLE_FRACTION))),
                  amplitude_uv=float(amplitude))  # fmt: skip


def _left_weights() -> np.ndarray:
    """Weights (21,) 1 on the left, 0 on the right, 0.5 on the midline: two hemispheric beta generators."""
    return 1.0 - hemisphere_gain("left", 0.0, width_m=0.02)


def _runs(
    canvas: Canvas, rng: np.random.Generator, run_s: tuple[float, float], gap_s: tuple[float, float]
) -> list[tuple[float, float]]:
    """Random runs (start, end) covering the record: runs of ``run_s`` separated by gaps of ``gap_s``."""
    runs, cursor = [], rng.uniform(0.5, gap_s[0])
    while cursor < canvas.duration_s - 2.0:
        end = min(cursor + rng.uniform(*run_s), canvas.duration_s - 0.5)
        runs.append((cursor, end))
        cursor = end + rng.uniform(*gap_s)
    return runs or [(0.5, canvas.duration_s - 0.5)]


def _rhythmic_delta(
    canvas: Canvas, rng: np.random.Generator, freq: float, runs: list[tuple[float, float]]
) -> np.ndarray:
    """Rhythmic delta (n,), unit amplitude, in ``runs``: uniform, slightly sharp, with ±5 % drift."""
    drift = 1.0 + 0.05 * spectral_noise(rng, 1, canvas.n_times, canvas.sfreq_hz, flat_band(0.0, 0.1, 0.05))[0]
    wave = sharpened(chirp_phase(freq * drift, canvas.sfreq_hz, rng.uniform(0, 2 * np.pi)), 0.4)
    gate = smooth_gate(spans_mask(canvas.n_times, canvas.sfreq_hz, runs), canvas.sfreq_hz, 0.6)
    return gate * wave


def add_lrda(canvas: Canvas, spec: Spec) -> None:
    """Lateralized rhythmic delta activity: runs of uniform 1-2.5 Hz delta over one hemisphere's region."""
    rng = canvas.stream("lrda")
    side, regions = side_and_regions(canvas, spec)
    freq = spec.frequency_hz or PARAMETERS["lrda_hz"].draw(rng)
    run = PARAMETERS["rda_run_s"]
    runs = _runs(canvas, rng, (max(run.low, 6.0 / freq), run.high), (2.0, 8.0))
    amplitude = PARAMETERS["rda_uv"].draw(rng)
    field = sum(gaussian_field(c, 0.06) for c in focal_centres(side, regions))
    canvas.add_cortical(field, amplitude / 2.0 * _rhythmic_delta(canvas, rng, freq, runs))
    finding = Finding("lrda", side=side, regions=regions, frequency_hz=round(float(freq), 2),
                      channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(runs, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, amplitude_uv=float(amplitude))


def add_grda(canvas: Canvas, spec: Spec) -> None:
    """Generalized rhythmic delta, frontally predominant (FIRDA-like), 2-2.5 Hz, bilaterally synchronous."""
    rng = canvas.stream("grda")
    freq = spec.frequency_hz or PARAMETERS["grda_hz"].draw(rng)
    run = PARAMETERS["rda_run_s"]
    runs = _runs(canvas, rng, (max(run.low, 6.0 / freq), run.high), (3.0, 10.0))
    amplitude = PARAMETERS["rda_uv"].draw(rng)
    field = gaussian_field("Fz", 0.095)
    canvas.add_cortical(field, amplitude / 2.0 * _rhythmic_delta(canvas, rng, freq, runs))
    finding = Finding("grda", side="generalized", regions=("frontal",), frequency_hz=round(float(freq), 2),
                      channels=channels_over(field, MAX_FRACTION),
                      evidence=canvas.evidence(runs, channels_over(field, VISIBLE_FRACTION)))  # fmt: skip
    canvas.record(finding, amplitude_uv=float(amplitude))


def apply_burst_suppression(canvas: Canvas, spec: Spec) -> None:
    """Burst suppression: the cortex is silent (< 10 µV) but for 1-3-s bursts of high-voltage mixed activity.

    The cortical activity painted so far is scaled to the suppression level everywhere but in the
    bursts, which replace it (abrupt onset, as bursts in anaesthesia or post-anoxic coma begin).
    """
    rng = canvas.stream("burst_suppression")
    sfreq, n = canvas.sfreq_hz, canvas.n_times
    bursts, cursor = [], rng.uniform(0.5, 3.0)
    while cursor < canvas.duration_s - 1.0:
        end = min(cursor + PARAMETERS["bs_burst_s"].draw(rng), canvas.duration_s - 0.2)
        bursts.append((cursor, end))
        cursor = end + PARAMETERS["bs_suppression_s"].draw(rng)
    burst_mask = spans_mask(n, sfreq, bursts)
    burst_gate = smooth_gate(burst_mask, sfreq, 0.1)
    background_rms = float(np.sqrt(np.mean(canvas.cortical[:19] ** 2))) or 1.0
    suppressed = PARAMETERS["bs_suppression_rms_uv"].draw(rng) / background_rms
    canvas.cortical *= suppressed * (1.0 - burst_gate)
    # Bursts: widely correlated 1/f activity 1-15 Hz with sharp components, decaying within the burst.
    band = flat_band(1.0, 15.0, 1.0)
    sources = spectral_noise(rng, len(SITES), n, sfreq, lambda f: band(f) * power_law(1.0, 1.0)(f))
    waves = spatial_mixing(0.18, 0.05) @ sources
    waves[-2:] *= 0.6
    sharp = np.sign(waves) * np.abs(waves) ** 1.5  # the steep components of real bursts (spiky, polyphasic)
    amplitude = PARAMETERS["bs_burst_uv"].draw(rng)
    t = canvas.t_s
    envelope = np.zeros(n)
    for start, end in bursts:  # abrupt onset (50 ms), decay through the burst, fade over its last 0.4 s
        inside = (t >= start - 0.05) & (t < end)
        local = t[inside]
        onset = np.clip((local - start + 0.05) / 0.05, 0.0, 1.0)
        envelope[inside] = (
            onset
            * np.exp(-np.clip(local - start, 0.0, None) / max(end - start, 0.5))
            * np.sqrt(np.clip((end - local) / 0.4, 0.0, 1.0))
        )
    canvas.cortical += (amplitude / P2P_PER_RMS_BROAD) * envelope * sharp
    channels = tuple(SITES[:19])
    suppression_fraction = 1.0 - float(burst_mask.mean())
    canvas.record(Finding("burst_suppression", side="generalized",
                          evidence=canvas.evidence(whole_record(canvas), channels)),
                  bursts_s=[[round(a, 2), round(b, 2)] for a, b in bursts],
                  suppression_fraction=suppression_fraction, burst_uv=float(amplitude))  # fmt: skip
