"""Per-channel spectral and transient summaries of a 10-s segment, for stage 1's finding heads.

NeuroNarrator conditions on "segment embeddings and their spectral summaries". A small patch Transformer
trained for minutes on two CPU cores learns the slow background well and the brief or high-frequency
events badly: in a first run (``configs/narrator-tiny.yaml`` without this branch) muscle, ECG and electrode
artifacts and focal spikes stayed near F1 0 although each has hundreds of training segments. What
separates them is simple physics a neurophysiologist reads off the page, so it is computed here, per
channel, in torch (batched FFTs, so it runs on the GPU with the rest of the model):

- ``log10`` power in seven bands (µV², Hann-windowed periodogram): delta, theta, alpha, 13-20, 20-30,
  30-45 and 45-70 Hz -- the last two are where EMG lives and the encoder's inputs barely reach;
- the same as fractions of the total (log10): gain-invariant, so a recording at twice the gain reads the
  same;
- line length (log10 mean |Δx|), spikiness (log10 of max |Δx| over median |Δx|: spikes, sharp waves,
  electrode pops) and kurtosis (log10): brief transients;
- periodicity: the largest normalised autocorrelation, at lags 0.3-2 s, of the sharp part of Δx (|Δx|
  above four times its median): periodic discharges, ECG.

- spikiness and line length relative to the other channels (minus their median over the present
  channels): an electrode pop or a focal spike is sharp on one or a few channels, a blink or a generalized
  discharge on many.

Plus two segment-wide values: the periodicity of the common-mode signal (mean Δx over the present
channels) at lags 0.4-1.5 s -- the ECG, which shows on many channels at once at the heart rate -- and the
largest relative spikiness over the channels.

Written by hand: scipy/MNE compute these on numpy arrays outside the autograd graph, and the features
must follow the augmented waveform inside the training step.

:class:`ChannelFeatureEncoder` embeds the (B, 19, F) features: a shared per-channel linear map plus a
learned channel embedding (electrodes and derivations apart, as the waveform encoder), GELU, masked
channels set to 0 -- (B, 19, h) per-channel embeddings, kept so the pipeline can attribute relevance to
channels -- then flattened (the position of a channel matters: laterality) with the segment-wide value
into a (B, d) vector for the heads.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BANDS_HZ", "N_CHANNEL_FEATURES", "N_COMMON", "ChannelFeatureEncoder", "channel_features"]

BANDS_HZ = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 20.0), (20.0, 30.0), (30.0, 45.0), (45.0, 70.0))
N_CHANNEL_FEATURES = 2 * len(BANDS_HZ) + 6
N_COMMON = 2  # segment-wide values: common-mode periodicity, largest spikiness above the other channels'
_EPS_POWER = 1e-3  # µV²: below any real EEG band power, keeps log10 finite on flat or masked rows


def _transients(d: torch.Tensor) -> torch.Tensor:
    """The sharp part of a first difference (..., T): ``|Δx|`` above four times its median, else 0 -- so that the
    autocorrelation sees the discharges and beats, not the background's own slope noise."""
    a = d.abs()
    return torch.relu(a - 4.0 * a.median(-1, keepdim=True).values)


def _autocorr_max(x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Largest normalised autocorrelation of x (..., T), mean removed, at lags [lo, hi) samples (…,);
    0 for a flat x."""
    t = x.shape[-1]
    x = x - x.mean(-1, keepdim=True)
    spec = torch.fft.rfft(x, n=2 * t)
    ac = torch.fft.irfft(spec.real**2 + spec.imag**2, n=2 * t)[..., :t]
    ac = ac / ac[..., :1].clamp_min(1e-12)
    return ac[..., lo:hi].amax(-1).clamp(-1.0, 1.0)


def channel_features(
    waveform_uv: torch.Tensor, channel_mask: torch.Tensor, sfreq_hz: float = 200.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features (B, C, F), common (B, N_COMMON))`` of segments (B, C, T) µV; masked channels' features
    are 0.

    See the module docstring for the F = :data:`N_CHANNEL_FEATURES` values, in order: 7 log band powers,
    7 log relative powers, line length, spikiness, kurtosis, periodicity, relative spikiness, relative
    line length."""
    x = waveform_uv.float()
    mask = channel_mask.to(x.device).bool()
    x = torch.where(mask[..., None], x, torch.zeros_like(x))
    x = x - x.mean(-1, keepdim=True)
    t = x.shape[-1]
    window = torch.hann_window(t, periodic=False, device=x.device, dtype=x.dtype)
    spec = torch.fft.rfft(x * window).abs() ** 2 / (window**2).sum() / sfreq_hz * 2  # one-sided PSD, µV²/Hz
    freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(x.device)
    df = float(freqs[1] - freqs[0])
    bands = torch.stack([spec[..., (freqs >= lo) & (freqs < hi)].sum(-1) * df for lo, hi in BANDS_HZ], -1)
    log_power = torch.log10(bands + _EPS_POWER)
    relative = torch.log10(bands / bands.sum(-1, keepdim=True).clamp_min(_EPS_POWER) + 1e-6)
    d = torch.diff(x, dim=-1)
    abs_d = d.abs()
    line_length = torch.log10(abs_d.mean(-1) + 1e-3)
    spikiness = torch.log10(abs_d.amax(-1) / (abs_d.median(-1).values + 1e-3) + 1.0)
    var = (x**2).mean(-1)
    kurtosis = torch.log10((x**4).mean(-1) / (var**2).clamp_min(1e-6) + 1e-3)
    periodicity = _autocorr_max(_transients(d), int(0.3 * sfreq_hz), int(2.0 * sfreq_hz))
    spiky_rel, length_rel = _minus_present_median(spikiness, mask), _minus_present_median(line_length, mask)
    per_channel = [line_length, spikiness, kurtosis, periodicity, spiky_rel, length_rel]
    feats = torch.cat([log_power, relative, torch.stack(per_channel, -1)], -1)
    feats = torch.where(mask[..., None], feats, torch.zeros_like(feats))
    n_present = mask.sum(1, keepdim=True).clamp_min(1)
    common_mode = (d * mask[..., None]).sum(1) / n_present  # (B, T-1)
    ecg = _autocorr_max(_transients(common_mode), int(0.4 * sfreq_hz), int(1.5 * sfreq_hz))
    max_spiky = torch.where(mask, spiky_rel, torch.full_like(spiky_rel, -torch.inf)).amax(1)
    common = torch.stack([ecg, max_spiky], -1)
    has_any = mask.any(1, keepdim=True)
    return feats, torch.where(has_any, common, torch.zeros_like(common))


def _minus_present_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C) values minus their median over each row's present channels (masked: NaN-ignored)."""
    present = torch.where(mask, values, torch.full_like(values, float("nan")))
    median = present.nanmedian(dim=1, keepdim=True).values
    return values - torch.nan_to_num(median, nan=0.0)


class ChannelFeatureEncoder(nn.Module):
    """(B, C, F) features + (B, N_COMMON) common values → per-channel embeddings (B, C, hidden) and a (B, d_out)
    vector (module docstring)."""

    def __init__(self, n_rows: int = 19, hidden: int = 16, d_out: int = 64, sfreq_hz: float = 200.0) -> None:
        super().__init__()
        self.n_rows, self.hidden, self.sfreq_hz = n_rows, hidden, sfreq_hz
        self.channel_proj = nn.Linear(N_CHANNEL_FEATURES, hidden)
        self.channel_emb = nn.Embedding(2 * n_rows, hidden)  # electrodes first, derivations at n_rows
        self.out = nn.Linear(n_rows * hidden + N_COMMON, d_out)
        nn.init.normal_(self.channel_emb.weight, std=0.02)

    def embed_channels(self, waveform_uv: torch.Tensor, channel_mask: torch.Tensor,
                       bipolar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """``(per-channel embeddings (B, C, hidden), common (B, N_COMMON))``; masked channels' embeddings are 0."""
        feats, common = channel_features(waveform_uv, channel_mask, self.sfreq_hz)
        rows = torch.arange(self.n_rows, device=feats.device)[None, :] + self.n_rows * bipolar.long()[:, None]
        h = torch.nn.functional.gelu(self.channel_proj(feats) + self.channel_emb(rows))
        return h * channel_mask.to(h.device)[..., None].to(h.dtype), common

    def pool(self, per_channel: torch.Tensor, common: torch.Tensor) -> torch.Tensor:
        """(B, C, hidden), (B, N_COMMON) → (B, d_out)."""
        return self.out(torch.cat([per_channel.flatten(1), common.to(per_channel.dtype)], dim=1))
