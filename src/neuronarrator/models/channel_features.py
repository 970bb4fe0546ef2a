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
- line length (log10 mean |Δx|), spikiness (log10 of max |Δx| over the median of its 50-ms means: spikes,
  sharp waves, electrode pops) and kurtosis (log10): brief transients;
- periodicity: the largest normalised autocorrelation, at lags 0.3-2 s, of the sharp part of Δx (|Δx|
  above four times that median level, summed in 50-ms bins): periodic discharges, ECG.

- spikiness and line length relative to the other channels (minus their median over the present
  channels): an electrode pop or a focal spike is sharp on one or a few channels, a blink or a generalized
  discharge on many.

- delta rhythmicity: the largest normalised autocorrelation, at lags 0.3-1.2 s, of the 0.5-4 Hz part of
  the channel (computed at 20 Hz) -- rhythmic delta (LRDA, GRDA: 1-3 Hz, uniform) repeats itself, polymorphic delta does not;
  and delta peak prominence (log10 of the largest 0.8-3 Hz power density over the mean 0.5-6 Hz density);
- step persistence at the channel's largest one-sample jump: the mean level 25-200 ms and 200-500 ms after
  the jump minus the level just before it, signed by the jump and divided by its size. An electrode pop is
  a step that decays over 0.1-0.6 s, so the level stays where the jump took it; a spike or sharp wave
  returns (and its after-going slow wave overshoots); muscle, though as spiky, averages out.

With ``sharp_15ms`` (``Stage1Config.sharp_features``; off in checkpoints trained before it), two more per
channel: **sharpness below 30 Hz** -- log10 of the largest |y(t + 15 ms) - y(t)| over the median of its
50-ms means, ``y`` the channel low-passed at 30 Hz (zero-phase, 8th-order Butterworth magnitude) -- and the
same minus the median over the present channels. Muscle (20-70+ Hz) and white sensor noise make the
largest one-sample |Δx| of a channel large everywhere and hide an electrode pop or a low spike in it;
below 30 Hz and over three samples a step or a spike's upstroke still adds up while those do not (side
check, segment AUROC of the largest relative value for electrode pops, shifted phantom: 0.72 for the
one-sample spikiness, 0.82 for this; in sessions with muscle artifact 0.61 and 0.77).

Plus segment-wide values: the periodicity of the common-mode signal (mean Δx over the present channels)
at lags 0.4-1.5 s -- a common-reference ECG, which shows on many channels at once at the heart rate (it
cancels once the recording is average-referenced) -- the largest relative spikiness over the channels,
and the **hemispheric asymmetry**: for the 8 homologous pairs (Fp1/Fp2 ... O1/O2; in the double banana
the left and right temporal and parasagittal chains, link by link), the left-minus-right log10 power in
delta, theta, alpha and beta, then per band the largest |difference|, the largest and the smallest. A
neurologist reads lateralized slowing, an asymmetric background and lateralized rhythmic delta off the
two hemispheres side by side; a small head learns that comparison slowly from 19 separate channel
embeddings and a few dozen lateralized training sessions, so it gets the differences directly.

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
#: Bands compared between the hemispheres: delta, theta, alpha, beta (BANDS_HZ 0-2, and 3 + 4).
ASYMMETRY_BANDS_HZ = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0))
assert BANDS_HZ[3][0] == ASYMMETRY_BANDS_HZ[3][0] and BANDS_HZ[4][1] == ASYMMETRY_BANDS_HZ[3][1]
#: Homologous (left, right) row pairs: electrodes in CANONICAL_19 order, and double-banana derivations
#: (Fp1-F7..P7-O1 against Fp2-F8..P8-O2, Fp1-F3..P3-O1 against Fp2-F4..P4-O2; io.channels.DOUBLE_BANANA).
HOMOLOGOUS_ELECTRODES = ((0, 1), (2, 6), (3, 5), (7, 11), (8, 10), (12, 16), (13, 15), (17, 18))
HOMOLOGOUS_DERIVATIONS = ((0, 12), (1, 13), (2, 14), (3, 15), (4, 8), (5, 9), (6, 10), (7, 11))
N_PAIRS, N_ASYM_BANDS = len(HOMOLOGOUS_ELECTRODES), len(ASYMMETRY_BANDS_HZ)
N_CHANNEL_FEATURES = 2 * len(BANDS_HZ) + 10
#: Per-channel values added by ``sharp_15ms`` (module docstring).
N_SHARP_FEATURES = 2
#: The sharpness difference, samples (15 ms at the harmonized 200 Hz), and its low-pass corner.
_SHARP_LAG, _SHARP_LOWPASS_HZ = 3, 30.0
#: Segment-wide values: common-mode periodicity, largest spikiness above the other channels', then the
#: hemispheric asymmetry (N_PAIRS x N_ASYM_BANDS differences; per band the largest |.|, largest, smallest).
N_COMMON = 2 + N_PAIRS * N_ASYM_BANDS + 3 * N_ASYM_BANDS
_EPS_POWER = 1e-3  # µV²: below any real EEG band power, keeps log10 finite on flat or masked rows


#: Bin of the transient trains and of the robust slope level, seconds (10 samples at 200 Hz).
_BIN_S = 0.05


def _binned(a: torch.Tensor, n: int, reduce: str = "mean") -> torch.Tensor:
    """(..., T) → (..., T // n): means (or sums) of whole bins of n samples (a trailing partial bin dropped)."""
    t = (a.shape[-1] // n) * n
    binned = a[..., :t].reshape(*a.shape[:-1], t // n, n)
    return binned.mean(-1) if reduce == "mean" else binned.sum(-1)


def _slope_level(abs_d: torch.Tensor, n: int) -> torch.Tensor:
    """A channel's typical |Δx| (…, 1): the median of its 50-ms mean |Δx|. The median over 200 bins instead
    of 2,000 samples: 10x cheaper (a median sorts), and a background level all the same."""
    return _binned(abs_d, n).median(-1, keepdim=True).values


def _transient_train(abs_d: torch.Tensor, level: torch.Tensor, n: int) -> torch.Tensor:
    """The sharp part of |Δx| (…, T-1), ``|Δx|`` above four times the slope level, summed in 50-ms bins
    (…, T // n): discharges and beats as a train of events, without the background's own slope noise (and
    tolerant of the few-ms jitter a heartbeat or a periodic discharge has)."""
    return _binned(torch.relu(abs_d - 4.0 * level), n, reduce="sum")


def _delta_at_20hz(x: torch.Tensor, sfreq_hz: float) -> torch.Tensor:
    """The 0.5-4 Hz part of x (..., T) at a tenth of the rate (20 Hz at 200 Hz; (..., T // 10)): the
    band-limited spectrum's first bins transformed back on a 10x coarser grid (exact: nothing is left
    above 4 Hz, well below the new Nyquist)."""
    t = x.shape[-1]
    t_out = t // 10
    spectrum = torch.fft.rfft(x)[..., : t_out // 2 + 1]
    freqs = torch.fft.rfftfreq(t, 1.0 / sfreq_hz).to(x.device)[: t_out // 2 + 1]
    keep = ((freqs >= 0.5) & (freqs < 4.0)).to(x.dtype)
    return torch.fft.irfft(spectrum * keep, n=t_out) * (t_out / t)


def _autocorr_max(x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Largest normalised autocorrelation of x (..., T), mean removed, at lags [lo, hi) samples (…,);
    0 for a flat x."""
    t = x.shape[-1]
    x = x - x.mean(-1, keepdim=True)
    spec = torch.fft.rfft(x, n=2 * t)
    ac = torch.fft.irfft(spec.real**2 + spec.imag**2, n=2 * t)[..., :t]
    ac = ac / ac[..., :1].clamp_min(1e-12)
    return ac[..., lo:hi].amax(-1).clamp(-1.0, 1.0)


def _step_persistence(x: torch.Tensor, d: torch.Tensor, sfreq_hz: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Level 25-200 ms and 200-500 ms after each channel's largest one-sample jump, minus the level 25-200 ms
    before it, signed by the jump and divided by its size (…,), clamped to ±5 (module docstring)."""
    t = x.shape[-1]
    at = d.abs().argmax(-1, keepdim=True)  # (B, C, 1): the jump is from sample at to at + 1
    jump = torch.gather(d, -1, at)[..., 0]

    def level(a_s: float, b_s: float) -> torch.Tensor:
        offsets = torch.arange(int(a_s * sfreq_hz), int(b_s * sfreq_hz), device=x.device)
        return torch.gather(x, -1, (at + offsets).clamp(0, t - 1)).mean(-1)

    before = level(-0.2, -0.025)
    scale = jump.abs() + 1e-3
    sign = torch.sign(jump)
    near = (sign * (level(0.025, 0.2) - before) / scale).clamp(-5.0, 5.0)
    far = (sign * (level(0.2, 0.5) - before) / scale).clamp(-5.0, 5.0)
    return near, far


def _asymmetry(bands: torch.Tensor, mask: torch.Tensor, bipolar: torch.Tensor) -> torch.Tensor:
    """(B, N_PAIRS * N_ASYM_BANDS + 3 * N_ASYM_BANDS) left-minus-right log10 band powers of the homologous
    pairs (0 where either side is masked), then per band the largest |difference|, largest and smallest.

    ``bands``: the (B, C, len(BANDS_HZ)) band powers channel_features computed (µV²); the asymmetry bands
    are delta, theta, alpha and 13-20 + 20-30 Hz of them (:data:`ASYMMETRY_BANDS_HZ`)."""
    beta = bands[..., 3] + bands[..., 4]
    log_power = torch.log10(torch.stack([bands[..., 0], bands[..., 1], bands[..., 2], beta], -1) + _EPS_POWER)
    # (B, P, 2) row indices of the pairs, by montage
    pairs = torch.where(bipolar[:, None, None].to(bands.device),
                        torch.tensor(HOMOLOGOUS_DERIVATIONS, device=bands.device)[None],
                        torch.tensor(HOMOLOGOUS_ELECTRODES, device=bands.device)[None])  # fmt: skip
    left = torch.gather(log_power, 1, pairs[..., 0:1].expand(-1, -1, N_ASYM_BANDS))
    right = torch.gather(log_power, 1, pairs[..., 1:2].expand(-1, -1, N_ASYM_BANDS))
    both = torch.gather(mask, 1, pairs[..., 0]) & torch.gather(mask, 1, pairs[..., 1])  # (B, P)
    diff = torch.where(both[..., None], left - right, torch.zeros_like(left))  # (B, P, bands)
    summary = [diff.abs().amax(1), diff.amax(1), diff.amin(1)]
    return torch.cat([diff.flatten(1), *summary], -1)


def channel_features(
    waveform_uv: torch.Tensor, channel_mask: torch.Tensor, sfreq_hz: float = 200.0,
    bipolar: torch.Tensor | None = None, sharp_15ms: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(features (B, C, F), common (B, N_COMMON))`` of segments (B, C, T) µV; masked channels' features
    are 0. ``bipolar`` (B,) bool says which rows are double-banana derivations (default: none).

    See the module docstring for the F = :data:`N_CHANNEL_FEATURES` values, in order: 7 log band powers,
    7 log relative powers, line length, spikiness, kurtosis, periodicity, relative spikiness, relative
    line length, delta rhythmicity, delta peak prominence, step persistence near and far."""
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
    n_bin = max(1, round(_BIN_S * sfreq_hz))
    level = _slope_level(abs_d, n_bin)
    line_length = torch.log10(abs_d.mean(-1) + 1e-3)
    spikiness = torch.log10(abs_d.amax(-1) / (level[..., 0] + 1e-3) + 1.0)
    var = (x**2).mean(-1)
    kurtosis = torch.log10((x**4).mean(-1) / (var**2).clamp_min(1e-6) + 1e-3)
    periodicity = _autocorr_max(_transient_train(abs_d, level, n_bin), round(0.3 / _BIN_S), round(2.0 / _BIN_S))
    spiky_rel, length_rel = _minus_present_median(spikiness, mask), _minus_present_median(line_length, mask)
    coarse_hz = sfreq_hz / 10.0  # the rate of _delta_at_20hz's output (20 Hz at the harmonized 200 Hz)
    rhythmicity = _autocorr_max(_delta_at_20hz(x, sfreq_hz), round(0.3 * coarse_hz), round(1.2 * coarse_hz))
    peak, wide = (freqs >= 0.8) & (freqs < 3.0), (freqs >= 0.5) & (freqs < 6.0)
    prominence = torch.log10(spec[..., peak].amax(-1) / spec[..., wide].mean(-1).clamp_min(1e-6) + 1e-3)
    near, far = _step_persistence(x, d, sfreq_hz)
    per_channel = [line_length, spikiness, kurtosis, periodicity, spiky_rel, length_rel, rhythmicity, prominence,
                   near, far]  # fmt: skip
    if sharp_15ms:
        lowpass = 1.0 / torch.sqrt(1.0 + (freqs / _SHARP_LOWPASS_HZ) ** 8)  # zero-phase Butterworth magnitude
        y = torch.fft.irfft(torch.fft.rfft(x) * lowpass, n=t)
        abs_d15 = (y[..., _SHARP_LAG:] - y[..., :-_SHARP_LAG]).abs()
        sharp = torch.log10(abs_d15.amax(-1) / (_slope_level(abs_d15, n_bin)[..., 0] + 1e-3) + 1.0)
        per_channel += [sharp, _minus_present_median(sharp, mask)]
    feats = torch.cat([log_power, relative, torch.stack(per_channel, -1)], -1)
    feats = torch.where(mask[..., None], feats, torch.zeros_like(feats))
    n_present = mask.sum(1, keepdim=True).clamp_min(1)
    common_abs = ((d * mask[..., None]).sum(1) / n_present).abs()  # (B, T-1): |common-mode Δx|
    common_train = _transient_train(common_abs, _slope_level(common_abs, n_bin), n_bin)
    ecg = _autocorr_max(common_train, round(0.4 / _BIN_S), round(1.5 / _BIN_S))
    max_spiky = torch.where(mask, spiky_rel, torch.full_like(spiky_rel, -torch.inf)).amax(1)
    if bipolar is None:
        bipolar = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    common = torch.cat([torch.stack([ecg, max_spiky], -1), _asymmetry(bands, mask, bipolar.bool())], -1)
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

    def __init__(self, n_rows: int = 19, hidden: int = 16, d_out: int = 64, sfreq_hz: float = 200.0,
                 sharp_15ms: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.n_rows, self.hidden, self.sfreq_hz, self.sharp_15ms = n_rows, hidden, sfreq_hz, sharp_15ms
        self.channel_proj = nn.Linear(N_CHANNEL_FEATURES + (N_SHARP_FEATURES if sharp_15ms else 0), hidden)
        self.channel_emb = nn.Embedding(2 * n_rows, hidden)  # electrodes first, derivations at n_rows
        self.out = nn.Linear(n_rows * hidden + N_COMMON, d_out)
        nn.init.normal_(self.channel_emb.weight, std=0.02)

    def embed_channels(self, waveform_uv: torch.Tensor, channel_mask: torch.Tensor,
                       bipolar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """``(per-channel embeddings (B, C, hidden), common (B, N_COMMON))``; masked channels' embeddings are 0."""
        feats, common = channel_features(waveform_uv, channel_mask, self.sfreq_hz, bipolar, self.sharp_15ms)
        rows = torch.arange(self.n_rows, device=feats.device)[None, :] + self.n_rows * bipolar.long()[:, None]
        h = torch.nn.functional.gelu(self.channel_proj(feats) + self.channel_emb(rows))
        return h * channel_mask.to(h.device)[..., None].to(h.dtype), common

    def pool(self, per_channel: torch.Tensor, common: torch.Tensor) -> torch.Tensor:
        """(B, C, hidden), (B, N_COMMON) → (B, d_out)."""
        return self.out(torch.cat([per_channel.flatten(1), common.to(per_channel.dtype)], dim=1))
