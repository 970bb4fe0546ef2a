"""Recording-condition augmentation of harmonized 10-s segments for stage-1 training.

Clinical recordings differ in ways the findings do not: amplifier gain and electrode impedance scale the
whole trace, sensor noise adds a broadband floor, and bad electrodes are masked by the harmonizer (the
shifted phantom, ``phantom?shift=1``, holds all three). A model trained on one lab's levels reads a
session recorded at twice the gain as "high-voltage" and learns nothing robust. Each training batch is
therefore perturbed, per segment, as a different recording of the same brain would be:

- gain: ``waveform × g``, ``g`` log-uniform in ``gain`` (a topomap of log10 µV² shifts by
  ``2 log10 g`` inside the head disk, so the two views stay consistent);
- sensor noise: white Gaussian noise of a standard deviation uniform in [0, ``noise_uv``] µV (not
  propagated to the topomap: a few µV of white noise moves log band powers of tens of µV² little);
- channel dropout: with probability ``p_drop_segment`` a segment loses each of its present channels with
  probability ``p_drop_channel`` (at least one stays), as the harmonizer masks a flat or noisy electrode.
  The topomap is left as it is (the stored map was interpolated from every electrode).
- bandwidth: with probability ``p_lowpass`` a segment loses everything above a cutoff uniform in
  ``lowpass_hz`` (an ideal FFT low-pass), as a recording sampled at 100-128 Hz does (its harmonized band
  ends at 0.45 x the native rate: Sleep-EDF's at 45 Hz, where the phantom's reaches 70). The heads read
  30-45 and 45-70 Hz band powers; a model that never saw them empty reads an empty 45-70 Hz band as
  something. No finding of the vocabulary lives only above 30 Hz (muscle extends down to 20 Hz), so the
  labels hold.
- montage: with probability ``p_bipolar`` a referential segment is shown as the double banana that a
  bipolar-only recording (CHB-MIT) would have given (``bipolar = M @ referential``, exact; a derivation
  is present where both its electrodes are; no scalp map, as bipolar segments have none), and with
  probability ``p_sparse`` a segment (in either view) keeps only 1-4 of its rows at random, as a
  polysomnogram with two or three EEG derivations (Sleep-EDF's Fpz-Cz and Pz-Oz) is read. Without these
  a model that has only seen 19 referential electrodes meets a three-derivation sleep recording out of
  distribution and says anything (a first run called a healthy Sleep-EDF excerpt "generalized
  spike-and-wave"). The labels stay those of the whole head, which is the point for the sparse view:
  where the rows kept cannot show a finding, the loss teaches the heads the finding's posterior given
  those rows (near its prior), not a guess. A share ``p_sparse_psg`` of the sparse segments keeps a
  polysomnography layout instead of random rows (:data:`PSG_LAYOUTS`: AASM's F4/C4/O2 or F3/C3/O1, all six,
  or Sleep-EDF's Fpz-Cz and Pz-Oz as the harmonizer places them, Fz-Cz with P3-O1 and P4-O2): random rows
  almost never show a sleep recording's frontal-central-occipital view, and stage 1 otherwise reads wake
  or sleep off three PSG rows by chance.

- spectral tilt: with probability ``p_tilt`` the 1/f exponent of a segment changes by ``Δβ`` uniform in
  ``tilt`` (power × ``(f / 10 Hz)^-Δβ``, pivoting at 10 Hz, flat below 1 Hz), as the background of an older
  or younger person, or another amplifier's filters, would be (the scalp map's bands shift by the same
  law at their centre frequencies). ``|Δβ| <= 0.3`` moves delta power by at most ×1.6 and beta by ×0.76:
  inside the range gain already spans.
- interpolated electrodes: with probability ``p_interp`` a referential segment has 1-``interp_max``
  present electrodes replaced by the spherical-spline estimate from the others, as the harmonizer
  repairs a flat, noisy or popping electrode (the shifted phantom has 1-3 per session; real recordings
  too). A focal event on a repaired electrode is then seen only through its neighbours.
- louder background: with probability ``p_background`` a referential segment gets extra spontaneous
  activity added: aperiodic (power ∝ ``f^-β``, ``β`` uniform in ``background_exponent``, 0.5-70 Hz),
  spatially smooth (covariance ``exp(-d² / 2L²)`` between electrodes ``d`` m apart, ``L`` uniform in
  ``background_length_m``: volume conduction through skull and CSF), average-referenced, at an RMS uniform
  in [0, ``background_uv``] µV. People differ in background voltage (youth, a thin skull: 20+ µV RMS
  where the phantom's training subjects have 10-18) while their spikes, pops and rhythmic delta need not
  be larger: gain scales both together and never shows a finding in a louder background. The scalp
  map gets the added band powers (the realized noise's mean power per band over the present electrodes,
  added in µV² at every pixel: the added field is spatially stationary). Segments labelled with a finding
  defined by a voltage ratio (burst suppression: suppression < 10 µV; asymmetry: one side's lower
  amplitude) are left alone, as are bipolar ones.
- injected muscle: with probability ``p_muscle`` a referential segment gets a burst of muscle artifact
  (0.5-3 s, flat 20-90 Hz through the 70-Hz acquisition low-pass, 15-40 µV RMS: the phantom's EMG) on
  1-3 of the temporalis/frontalis electrodes, and its ``muscle_artifact`` label set -- the one
  augmentation that adds a finding, and it adds the label with it. Muscle co-occurs with everything in a
  tense patient (the shifted phantom has it in 60 % of sessions, training in 30 %), and an electrode pop
  or a spike read through a muscle burst is what a head trained mostly on quiet segments misses (in a
  side check 18 of 22 missed shifted electrode pops had muscle in the session). The scalp map gets the
  added band powers at those electrodes: the map is a linear spline of per-electrode log power, so the
  electrodes' log powers are read back from it exactly (least squares through the same interpolation
  matrix), the added power joined, and the map redrawn.

Apart from the injected muscle, the labels are unchanged by construction: none of the other perturbations adds or removes a finding (gains
stay within a factor ~2 either way; a burst-suppression segment at half gain is still suppressed relative
to its bursts, and the corpus labels were made at the recording's own gain). The random draws come from
torch's global generator, which the training loop seeds and checkpoints, so a resumed run draws the same.

Written by hand: braindecode's transforms (``ChannelsDropout``, ``GaussianNoise``, scaling) act on the
waveform alone and pull in torchaudio, which has no CPU build here; the topomap's consistency is ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from neuronarrator.clinical.findings import CODES
from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA, bipolar_matrix, positions_m

__all__ = ["PSG_LAYOUTS", "SegmentAugment"]

#: Codes defined by a voltage ratio that added background would change (module docstring, louder background).
_RATIO_CODES: tuple[int, ...] = tuple(list(CODES).index(c) for c in ("burst_suppression", "asymmetry"))


#: Rows a polysomnogram's EEG shows, per montage (module docstring, montage): referential AASM F4/C4/O2,
#: F3/C3/O1 and all six; bipolar Sleep-EDF's Fpz-Cz and Pz-Oz as harmonized (Fz-Cz, P3-O1, P4-O2), with Cz-Pz.
PSG_LAYOUTS: dict[str, tuple[tuple[int, ...], ...]] = {
    "referential": tuple(tuple(CANONICAL_19.index(c) for c in names) for names in
                         (("F4", "C4", "O2"), ("F3", "C3", "O1"), ("F3", "F4", "C3", "C4", "O1", "O2"))),
    "bipolar": tuple(tuple(DOUBLE_BANANA.index(d) for d in derivations) for derivations in
                     ((("Fz", "Cz"), ("P3", "O1"), ("P4", "O2")), (("Fz", "Cz"), ("Cz", "Pz"), ("P3", "O1"), ("P4", "O2")))),
}  # fmt: skip

#: Electrodes over temporalis and frontalis (the phantom's MUSCLE_SITES), rows of CANONICAL_19.
_MUSCLE_ROWS: tuple[int, ...] = tuple(CANONICAL_19.index(c) for c in ("F7", "F8", "T7", "T8", "Fp1", "Fp2"))
_MUSCLE_CODE = list(CODES).index("muscle_artifact")


def _band_powers_uv2(x_uv: torch.Tensor, sfreq_hz: float) -> torch.Tensor:
    """Power (µV²) of signals (..., T) in each of ``BANDS_HZ`` (..., 5): the one-sided periodogram summed over
    the band's bins (the maps' bands; torch, so that it runs where the batch is)."""
    from neuronarrator.signal.bands import BANDS_HZ

    t = x_uv.shape[-1]
    freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(x_uv.device)
    psd = torch.fft.rfft(x_uv).abs() ** 2 * (2.0 / (sfreq_hz * t))  # µV²/Hz
    return torch.stack([psd[..., (freqs >= a) & (freqs < b)].sum(-1) * (sfreq_hz / t) for a, b in BANDS_HZ.values()], -1)


def _add_power_to_map(topo: torch.Tensor, mask: torch.Tensor, rows: list[int], added_uv: torch.Tensor,
                      sfreq_hz: float) -> torch.Tensor:  # fmt: skip
    """A (5, G, G) scalp map of log10 band power with ``added_uv`` (len(rows), T) added at ``rows``: the
    present electrodes' log powers read back through the map's interpolation matrix (least squares; exact
    for a map drawn by it), the added band powers joined in µV², the map redrawn."""
    from neuronarrator.signal.topomap import interpolation_matrix

    present = mask[: len(CANONICAL_19)].nonzero().flatten().tolist()
    grid = topo.shape[-1]
    w = torch.tensor(interpolation_matrix(tuple(CANONICAL_19[c] for c in present), grid), dtype=torch.float64)
    log_power = torch.linalg.lstsq(w, topo.reshape(topo.shape[0], -1).double().T).solution  # (n_present, 5)
    bands = _band_powers_uv2(added_uv.double(), sfreq_hz)  # (len(rows), 5)
    at = torch.tensor([present.index(r) for r in rows])
    log_power[at] = torch.log10(10.0 ** log_power[at] + bands)
    return (w @ log_power).T.reshape(topo.shape).to(topo.dtype)


@lru_cache(maxsize=1)
def _electrode_distances_m() -> np.ndarray:
    """(19, 19) chord distances in metres between the CANONICAL_19 electrodes."""
    pos = positions_m(CANONICAL_19)
    return np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)


def _spatial_mixing(length_m: torch.Tensor, n_rows: int, device: torch.device) -> torch.Tensor:
    """(n, n_rows, n_rows) matrices ``A`` with ``A Aᵀ = exp(-d² / 2L²)`` (+1 % white nugget) per length L (n,):
    white rows in, spatially smooth rows out."""
    d2 = torch.as_tensor(_electrode_distances_m() ** 2, dtype=torch.float32, device=device)
    nugget = 0.01 * torch.eye(len(CANONICAL_19), device=device)
    cov = torch.exp(-d2[None] / (2.0 * length_m[:, None, None] ** 2)) + nugget
    mixing = torch.zeros(len(length_m), n_rows, n_rows, device=device)
    mixing[:, : len(CANONICAL_19), : len(CANONICAL_19)] = torch.linalg.cholesky(cov)
    return mixing


@dataclass(frozen=True)
class SegmentAugment:
    gain: tuple[float, float] = (0.5, 2.0)
    noise_uv: float = 4.0
    p_drop_segment: float = 0.3
    p_drop_channel: float = 0.1
    p_lowpass: float = 0.0
    lowpass_hz: tuple[float, float] = (30.0, 50.0)
    p_bipolar: float = 0.0
    p_sparse: float = 0.0
    sparse_rows: tuple[int, int] = (1, 4)
    p_sparse_psg: float = 0.0
    p_tilt: float = 0.0
    tilt: tuple[float, float] = (-0.3, 0.3)
    p_interp: float = 0.0
    interp_max: int = 3
    p_background: float = 0.0
    background_uv: float = 12.0
    background_exponent: tuple[float, float] = (0.8, 2.0)
    background_length_m: tuple[float, float] = (0.08, 0.2)
    p_muscle: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.gain
        if not 0 < lo <= hi:
            raise ValueError(f"gain must be 0 < low <= high, got {self.gain}")
        if self.noise_uv < 0:
            raise ValueError(f"noise_uv must be >= 0, got {self.noise_uv}")
        if not 1 <= self.sparse_rows[0] <= self.sparse_rows[1]:
            raise ValueError(f"sparse_rows must be 1 <= low <= high, got {self.sparse_rows}")
        if not 0 < self.lowpass_hz[0] <= self.lowpass_hz[1]:
            raise ValueError(f"lowpass_hz must be 0 < low <= high, got {self.lowpass_hz}")
        if not self.tilt[0] <= self.tilt[1]:
            raise ValueError(f"tilt must be low <= high, got {self.tilt}")
        if self.background_uv < 0:
            raise ValueError(f"background_uv must be >= 0, got {self.background_uv}")
        if not self.background_exponent[0] <= self.background_exponent[1]:
            raise ValueError(f"background_exponent must be low <= high, got {self.background_exponent}")
        if not 0 < self.background_length_m[0] <= self.background_length_m[1]:
            raise ValueError(f"background_length_m must be 0 < low <= high, got {self.background_length_m}")
        if self.interp_max < 1:
            raise ValueError(f"interp_max must be >= 1, got {self.interp_max}")
        for name in ("p_drop_segment", "p_drop_channel", "p_lowpass", "p_bipolar", "p_sparse", "p_tilt",
                     "p_interp", "p_background", "p_muscle", "p_sparse_psg"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")

    @classmethod
    def from_config(cls, value: Any) -> SegmentAugment | None:
        """``False``/``None`` → None (no augmentation), ``True`` → the defaults, a mapping → those fields."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, Mapping):
            raise ValueError(
                f"augment must be true, false or a mapping of {cls.__name__} fields, got {value!r}"
            )
        fields = dict(value)
        if "gain" in fields:
            fields["gain"] = tuple(float(g) for g in fields["gain"])
        if "lowpass_hz" in fields:
            fields["lowpass_hz"] = tuple(float(f) for f in fields["lowpass_hz"])
        if "sparse_rows" in fields:
            fields["sparse_rows"] = tuple(int(r) for r in fields["sparse_rows"])
        for name in ("tilt", "background_exponent", "background_length_m"):
            if name in fields:
                fields[name] = tuple(float(t) for t in fields[name])
        return cls(**fields)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """A perturbed copy of a SegmentDataset batch (``waveform`` (B, 19, T) µV, ``channel_mask``
        (B, 19) bool, ``topomap`` (B, 5, H, W) log10 µV²); other keys are passed through."""
        out = dict(batch)
        wave = batch["waveform"]
        b = wave.shape[0]
        lo, hi = self.gain
        log_gain = torch.empty(b, device=wave.device).uniform_(math.log(lo), math.log(hi))
        gain = torch.exp(log_gain)
        sigma = torch.rand(b, device=wave.device) * self.noise_uv
        out["waveform"] = (
            wave * gain[:, None, None].to(wave.dtype) + torch.randn_like(wave) * sigma[:, None, None]
        )
        if "topomap" in batch:
            topo = batch["topomap"]
            shift = (2.0 * log_gain / math.log(10.0)).to(topo.dtype)[:, None, None, None]
            out["topomap"] = torch.where(topo != 0, topo + shift, topo)  # zeros: outside the disk, or no map
        if "channel_mask" in batch and self.p_drop_segment > 0 and self.p_drop_channel > 0:
            mask = batch["channel_mask"].bool()
            drop = (torch.rand(mask.shape, device=mask.device) < self.p_drop_channel) & mask
            drop &= (torch.rand(b, device=mask.device) < self.p_drop_segment)[:, None]
            kept = mask & ~drop
            empty = kept.sum(1) == 0  # never drop a segment's last channel
            out["channel_mask"] = torch.where(empty[:, None], mask, kept)
        if self.p_tilt > 0:
            out.update(self._tilt(out))
        if self.p_background > 0 and self.background_uv > 0 and "montage" in batch and "channel_mask" in batch:
            out.update(self._background(out))
        if self.p_muscle > 0 and "montage" in batch and "channel_mask" in batch and "findings" in batch:
            out.update(self._muscle(out))
        if self.p_interp > 0 and "montage" in batch and "channel_mask" in batch:
            out["waveform"] = self._interpolate(out["waveform"], out["channel_mask"].bool(), list(batch["montage"]))
        if self.p_lowpass > 0:
            out["waveform"] = self._lowpass(out["waveform"])
        if "montage" in batch and "channel_mask" in batch and (self.p_bipolar > 0 or self.p_sparse > 0):
            out.update(self._montage(out))
        return out

    def _tilt(self, batch: Mapping[str, Any], sfreq_hz: float = 200.0, pivot_hz: float = 10.0) -> dict[str, Any]:
        """Some segments' 1/f exponent changed by Δβ (module docstring); their scalp maps to match."""
        wave = batch["waveform"]
        b, t = wave.shape[0], wave.shape[-1]
        chosen = torch.rand(b, device=wave.device) < self.p_tilt
        if not bool(chosen.any()):
            return {}
        lo, hi = self.tilt
        beta = torch.empty(b, device=wave.device).uniform_(lo, hi) * chosen  # Δβ, 0 where not chosen
        freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(wave.device).clamp_min(1.0)
        amplitude = (freqs[None, :] / pivot_hz) ** (-beta[:, None] / 2.0)  # (B, F): power ∝ f^-Δβ
        out = {"waveform": torch.fft.irfft(torch.fft.rfft(wave.float()) * amplitude[:, None, :], n=t).to(wave.dtype)}
        if "topomap" in batch:
            from neuronarrator.signal.bands import BANDS_HZ

            topo = batch["topomap"]
            centres = torch.tensor([math.sqrt(a * b_) for a, b_ in BANDS_HZ.values()], device=topo.device)
            shift = -beta.to(topo.device)[:, None] * torch.log10(centres / pivot_hz)[None, :]  # (B, 5) log10 µV²
            out["topomap"] = torch.where(topo != 0, topo + shift[:, :, None, None].to(topo.dtype), topo)
        return out

    def _psg_rows(self, kept: torch.Tensor, mask: torch.Tensor, montage: list[str]) -> torch.Tensor:
        """``kept`` (B, rows) with a share ``p_sparse_psg`` of the segments given a polysomnography layout of
        the segment's montage (where any of its rows is present)."""
        kept = kept.clone()
        for i in (torch.rand(kept.shape[0]) < self.p_sparse_psg).nonzero().flatten().tolist():
            layouts = PSG_LAYOUTS["bipolar" if montage[i] == "bipolar" else "referential"]
            rows = list(layouts[int(torch.randint(len(layouts), (1,)))])
            layout = torch.zeros_like(kept[i])
            layout[rows] = True
            if bool((layout & mask[i]).any()):
                kept[i] = layout & mask[i]
        return kept

    def _background(self, batch: Mapping[str, Any], sfreq_hz: float = 200.0) -> dict[str, Any]:
        """Some referential segments with extra aperiodic, spatially smooth background (module docstring);
        their scalp maps to match."""
        wave, mask = batch["waveform"], batch["channel_mask"].bool()
        b, n_rows, t = wave.shape
        chosen = torch.rand(b, device=wave.device) < self.p_background
        chosen &= torch.tensor([m == "referential" for m in batch["montage"]], device=wave.device)
        if "findings" in batch:
            chosen &= ~(batch["findings"][:, list(_RATIO_CODES)].to(wave.device) > 0.5).any(1)
        if not bool(chosen.any()):
            return {}
        idx = chosen.nonzero().flatten()
        n = len(idx)
        lo, hi = self.background_exponent
        beta = torch.empty(n, device=wave.device).uniform_(lo, hi)
        freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(wave.device)
        band = (freqs >= 0.5) & (freqs <= 70.0)
        shape = torch.where(band[None, :], freqs.clamp_min(0.5)[None, :] ** (-beta[:, None] / 2.0), 0.0)  # (n, F)
        white = torch.randn(n, n_rows, t, device=wave.device)
        noise = torch.fft.irfft(torch.fft.rfft(white) * shape[:, None, :], n=t)  # (n, C, T): f^-β, per row
        length = torch.empty(n, device=wave.device).uniform_(*self.background_length_m)
        noise = _spatial_mixing(length, n_rows, wave.device) @ noise  # rows mixed by exp(-d²/2L²)
        present = mask[idx].float()[..., None]  # (n, C, 1)
        noise = (noise - (noise * present).sum(1, keepdim=True) / present.sum(1, keepdim=True).clamp_min(1)) * present
        rms = ((noise**2).sum((1, 2)) / (present.sum((1, 2)) * t).clamp_min(1)).sqrt()
        target = torch.rand(n, device=wave.device) * self.background_uv
        noise = noise * (target / rms.clamp_min(1e-9))[:, None, None]
        out_wave = wave.clone()
        out_wave[idx] = (wave[idx].float() + noise).to(wave.dtype)
        out: dict[str, Any] = {"waveform": out_wave}
        if "topomap" in batch:
            topo = batch["topomap"]
            powers = _band_powers_uv2(noise, sfreq_hz)  # (n, C, 5)
            mean_power = (powers * present).sum(1) / present.sum(1).clamp_min(1)  # (n, 5) µV²
            sub = topo[idx].to(mean_power.dtype)
            added = torch.log10(10.0**sub + mean_power.to(topo.device)[:, :, None, None])
            new_topo = topo.clone()
            new_topo[idx] = torch.where(sub != 0, added, sub).to(topo.dtype)
            out["topomap"] = new_topo
        return out

    def _muscle(self, batch: Mapping[str, Any], sfreq_hz: float = 200.0) -> dict[str, Any]:
        """Some referential segments with an injected muscle burst and the ``muscle_artifact`` label
        (module docstring); their scalp maps redrawn with the added power."""
        wave, mask = batch["waveform"], batch["channel_mask"].bool()
        b, _, t = wave.shape
        chosen = (torch.rand(b) < self.p_muscle).tolist()
        picks = [i for i, c in enumerate(chosen) if c and batch["montage"][i] == "referential"]
        if not picks:
            return {}
        out_wave, findings = wave.clone(), batch["findings"].clone()
        topo = batch["topomap"].clone() if "topomap" in batch else None
        freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz)
        shape = ((freqs >= 20.0) & (freqs <= 90.0)).float() / torch.sqrt(1.0 + (freqs / 70.0) ** 4)
        for i in picks:
            sites = [c for c in _MUSCLE_ROWS if bool(mask[i, c])]
            if not sites:
                continue
            n = int(torch.randint(1, min(3, len(sites)) + 1, (1,)))
            rows = [sites[j] for j in torch.randperm(len(sites))[:n].tolist()]
            length = int(float(torch.empty(1).uniform_(0.5, 3.0)) * sfreq_hz)
            start = int(torch.randint(0, max(1, t - length), (1,)))
            envelope = torch.zeros(t)
            envelope[start : start + length] = torch.hann_window(length + 2, periodic=False)[1:-1].sqrt()
            noise = torch.fft.irfft(torch.fft.rfft(torch.randn(n, t)) * shape, n=t)
            rms = torch.empty(n, 1).uniform_(15.0, 40.0)
            burst = noise / noise.std(-1, keepdim=True).clamp_min(1e-9) * rms * envelope  # (n, T) µV
            out_wave[i, rows] = (wave[i, rows].float() + burst.to(wave.device)).to(wave.dtype)
            findings[i, _MUSCLE_CODE] = 1.0
            if topo is not None and bool((topo[i] != 0).any()):
                topo[i] = _add_power_to_map(topo[i], mask[i], rows, burst, sfreq_hz)
        out: dict[str, Any] = {"waveform": out_wave, "findings": findings}
        if topo is not None:
            out["topomap"] = topo
        return out

    def _interpolate(self, wave: torch.Tensor, mask: torch.Tensor, montage: list[str]) -> torch.Tensor:
        """Some referential segments with 1-``interp_max`` electrodes replaced by their spherical-spline
        estimate from the other present electrodes (module docstring)."""
        from neuronarrator.io.channels import CANONICAL_19
        from neuronarrator.signal.interpolate import spherical_spline_matrix

        chosen = (torch.rand(wave.shape[0]) < self.p_interp).tolist()
        out = wave
        for i, pick in enumerate(chosen):
            present = mask[i, : len(CANONICAL_19)].nonzero().flatten().tolist()
            if not pick or montage[i] != "referential" or len(present) < 8:
                continue
            n = int(torch.randint(1, self.interp_max + 1, (1,)))
            order = torch.randperm(len(present)).tolist()
            targets = sorted(present[j] for j in order[:n])
            sources = [c for c in present if c not in targets]
            w = spherical_spline_matrix(tuple(CANONICAL_19[c] for c in sources), tuple(CANONICAL_19[c] for c in targets))
            if out is wave:
                out = wave.clone()
            estimate = torch.tensor(w, device=wave.device, dtype=wave.dtype) @ wave[i, sources]
            out[i, targets] = estimate
        return out

    def _lowpass(self, wave: torch.Tensor, sfreq_hz: float = 200.0) -> torch.Tensor:
        """Some segments (B, C, T) low-passed at a random cutoff (module docstring); the others as they are."""
        b, t = wave.shape[0], wave.shape[-1]
        chosen = torch.rand(b, device=wave.device) < self.p_lowpass
        if not bool(chosen.any()):
            return wave
        lo, hi = self.lowpass_hz
        cutoff = torch.empty(b, device=wave.device).uniform_(lo, hi)
        freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(wave.device)
        keep = (freqs[None, :] < cutoff[:, None]) | ~chosen[:, None]  # (B, F)
        spectrum = torch.fft.rfft(wave.float())
        return torch.fft.irfft(spectrum * keep[:, None, :], n=t).to(wave.dtype)

    def _montage(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """The montage part (module docstring): some referential rows to the double banana, some rows sparse."""
        wave, mask = batch["waveform"], batch["channel_mask"].bool()
        montage = list(batch["montage"])
        b, n_rows = mask.shape
        referential = torch.tensor([m == "referential" for m in montage], device=wave.device)
        to_bipolar = referential & (torch.rand(b, device=wave.device) < self.p_bipolar)
        out: dict[str, Any] = {}
        if bool(to_bipolar.any()):
            matrix = torch.zeros(n_rows, n_rows, dtype=wave.dtype, device=wave.device)
            banana = torch.from_numpy(bipolar_matrix()).to(wave.device, wave.dtype)
            matrix[: banana.shape[0]] = banana
            derived = torch.einsum(
                "rc,bct->brt", matrix, torch.where(mask[..., None], wave, torch.zeros_like(wave))
            )
            # a derivation is there where both of its electrodes are (the last row is unused: 18 derivations)
            present = (banana != 0).to(torch.float32)
            derived_mask = torch.zeros_like(mask)
            derived_mask[:, : banana.shape[0]] = (mask.float() @ present.T) == 2
            wave = torch.where(to_bipolar[:, None, None], derived, wave)
            mask = torch.where(to_bipolar[:, None], derived_mask, mask)
            montage = ["bipolar" if flip else m for m, flip in zip(montage, to_bipolar.tolist(), strict=True)]
            if "topomap" in batch:
                topo = batch["topomap"]
                out["topomap"] = torch.where(
                    to_bipolar[:, None, None, None].to(topo.device), torch.zeros_like(topo), topo
                )
        sparse = torch.rand(b, device=wave.device) < self.p_sparse
        if bool(sparse.any()):
            lo, hi = self.sparse_rows
            n_keep = torch.randint(lo, hi + 1, (b,), device=wave.device)
            # keep the n_keep present rows of highest random score
            score = torch.where(
                mask,
                torch.rand(mask.shape, device=wave.device),
                torch.full(mask.shape, -1.0, device=wave.device),
            )
            rank = score.argsort(1, descending=True).argsort(1)
            kept = mask & (rank < n_keep[:, None])
            if self.p_sparse_psg > 0:
                kept = self._psg_rows(kept, mask, montage)
            kept = torch.where(kept.any(1, keepdim=True), kept, mask)
            mask = torch.where(sparse[:, None], kept, mask)
        out.update(waveform=wave, channel_mask=mask, montage=montage)
        return out
