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

The labels are unchanged by construction: none of the perturbations adds or removes a finding (gains
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
from typing import Any

import torch

__all__ = ["SegmentAugment"]


@dataclass(frozen=True)
class SegmentAugment:
    gain: tuple[float, float] = (0.5, 2.0)
    noise_uv: float = 4.0
    p_drop_segment: float = 0.3
    p_drop_channel: float = 0.1

    def __post_init__(self) -> None:
        lo, hi = self.gain
        if not 0 < lo <= hi:
            raise ValueError(f"gain must be 0 < low <= high, got {self.gain}")
        if self.noise_uv < 0:
            raise ValueError(f"noise_uv must be >= 0, got {self.noise_uv}")
        for name in ("p_drop_segment", "p_drop_channel"):
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
            raise ValueError(f"augment must be true, false or a mapping of {cls.__name__} fields, got {value!r}")
        fields = dict(value)
        if "gain" in fields:
            fields["gain"] = tuple(float(g) for g in fields["gain"])
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
        out["waveform"] = wave * gain[:, None, None].to(wave.dtype) + torch.randn_like(wave) * sigma[:, None, None]
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
        return out
