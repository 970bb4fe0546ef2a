"""Recording-condition augmentation: gains, noise and dropped channels, with consistent topomaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA, bipolar_matrix
from neuronarrator.models.augment import SegmentAugment
from neuronarrator.train.loop import warmup_cosine


def _batch(b: int = 64) -> dict:
    topo = torch.zeros(b, 5, 8, 8)
    topo[:, :, 2:6, 2:6] = torch.randn(b, 5, 4, 4) + 1.0
    mask = torch.ones(b, 19, dtype=torch.bool)
    mask[:, 18] = False
    return {"waveform": torch.randn(b, 19, 200) * 20, "channel_mask": mask, "topomap": topo, "findings": torch.ones(b, 3)}


def test_gain_moves_topomap_consistently_and_keeps_labels() -> None:
    torch.manual_seed(0)
    batch = _batch()
    out = SegmentAugment(gain=(0.5, 2.0), noise_uv=0.0, p_drop_segment=0.0)(batch)
    gain = out["waveform"].std(dim=(1, 2)) / batch["waveform"].std(dim=(1, 2))
    assert gain.min() >= 0.5 - 1e-4 and gain.max() <= 2.0 + 1e-4 and gain.std() > 0.1
    inside = batch["topomap"] != 0
    shift = (out["topomap"] - batch["topomap"])[inside].view(64, -1)
    torch.testing.assert_close(shift[:, 0], 2 * torch.log10(gain), atol=1e-4, rtol=0)
    assert torch.all(out["topomap"][~inside] == 0)  # outside the disk stays zero
    assert out["findings"] is batch["findings"]
    assert torch.equal(out["channel_mask"], batch["channel_mask"])


def test_noise_and_channel_dropout() -> None:
    torch.manual_seed(1)
    batch = _batch(400)
    batch["waveform"] = torch.zeros_like(batch["waveform"])
    aug = SegmentAugment(gain=(1.0, 1.0), noise_uv=4.0, p_drop_segment=0.5, p_drop_channel=0.2)
    out = aug(batch)
    sd = out["waveform"].std(dim=(1, 2))
    assert sd.max() <= 4.5 and sd.mean() == pytest.approx(2.0, abs=0.3)  # σ uniform in [0, 4]
    dropped = batch["channel_mask"] & ~out["channel_mask"]
    assert not (out["channel_mask"] & ~batch["channel_mask"]).any()  # a masked channel never comes back
    hit = dropped.any(1).float().mean()
    assert 0.35 < hit < 0.55  # ~0.5 · (1 - 0.8^18)
    assert (out["channel_mask"].sum(1) >= 1).all()


def test_never_drops_the_last_channel() -> None:
    torch.manual_seed(2)
    batch = _batch(50)
    batch["channel_mask"][:] = False
    batch["channel_mask"][:, 3] = True
    out = SegmentAugment(p_drop_segment=1.0, p_drop_channel=1.0)(batch)
    assert torch.equal(out["channel_mask"], batch["channel_mask"])


def test_from_config() -> None:
    assert SegmentAugment.from_config(False) is None and SegmentAugment.from_config(None) is None
    assert SegmentAugment.from_config(True) == SegmentAugment()
    assert SegmentAugment.from_config({"gain": [0.8, 1.2], "noise_uv": 1}).gain == (0.8, 1.2)
    with pytest.raises(ValueError):
        SegmentAugment.from_config({"gain": [2.0, 1.0]})
    with pytest.raises(TypeError):
        SegmentAugment.from_config({"bogus": 1})
    bg = SegmentAugment.from_config({"p_background": 0.4, "background_exponent": [1, 2]})
    assert bg.p_background == 0.4 and bg.background_exponent == (1.0, 2.0)
    for bad in ({"background_uv": -1}, {"background_length_m": [0, 0.1]}, {"p_background": 1.5}, {"p_muscle": -0.1},
                {"p_sparse_psg": 2.0}):
        with pytest.raises(ValueError):
            SegmentAugment.from_config(bad)


def test_warmup_cosine() -> None:
    f = warmup_cosine(100, 10, floor=0.02)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.02)
    assert f(55) == pytest.approx(0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    values = [f(s) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_montage_bipolar_view_is_the_double_banana() -> None:
    """A referential segment turned bipolar carries exactly M @ referential, a derivation only where both
    electrodes are present, no scalp map; bipolar segments stay as they are; labels untouched."""
    torch.manual_seed(3)
    batch = _batch(40)
    batch["channel_mask"][:, 18] = True
    batch["channel_mask"][0, 7] = False  # T7 missing in segment 0: F7-T7 and T7-P7 cannot be derived
    batch["montage"] = ["referential"] * 39 + ["bipolar"]
    aug = SegmentAugment(gain=(1.0, 1.0), noise_uv=0.0, p_drop_segment=0.0, p_bipolar=1.0)
    out = aug(batch)
    assert out["montage"] == ["bipolar"] * 40 and torch.equal(out["findings"], batch["findings"])
    banana = torch.from_numpy(bipolar_matrix())
    ref = batch["waveform"][1]
    torch.testing.assert_close(out["waveform"][1, :18], banana @ ref)
    assert torch.all(out["waveform"][1, 18] == 0) and not bool(out["channel_mask"][1, 18])
    assert out["channel_mask"][1, :18].all()
    derivations = [f"{a}-{c}" for a, c in DOUBLE_BANANA]
    lost = {derivations.index("F7-T7"), derivations.index("T7-P7")}
    assert {int(i) for i in torch.where(~out["channel_mask"][0, :18])[0]} == lost
    assert torch.all(out["topomap"][:39] == 0)
    torch.testing.assert_close(out["waveform"][39], batch["waveform"][39])  # already bipolar: unchanged


def test_montage_sparse_keeps_one_to_four_present_rows() -> None:
    torch.manual_seed(4)
    batch = _batch(300)
    batch["montage"] = ["referential"] * 300
    batch["channel_mask"][:, 5] = False
    out = SegmentAugment(noise_uv=0.0, p_drop_segment=0.0, p_sparse=0.5, sparse_rows=(1, 4))(batch)
    kept = out["channel_mask"].sum(1)
    sparse = kept < 17  # 17 rows are present (5 and 18 are not)
    assert 0.4 < float(sparse.float().mean()) < 0.6
    assert int(kept[sparse].min()) >= 1 and int(kept[sparse].max()) <= 4
    assert not bool(out["channel_mask"][:, 5].any()) and not bool(out["channel_mask"][:, 18].any())
    assert out["montage"] == batch["montage"]  # the view is kept; only rows go
    with pytest.raises(ValueError):
        SegmentAugment(sparse_rows=(0, 2))


def test_lowpass_empties_the_band_above_the_cutoff_only_where_drawn() -> None:
    torch.manual_seed(5)
    t = torch.arange(2000) / 200.0
    slow, fast = torch.sin(2 * torch.pi * 10 * t), torch.sin(2 * torch.pi * 60 * t)  # 10 Hz stays, 60 Hz goes
    batch = {"waveform": (30 * slow + 10 * fast).expand(200, 19, -1).clone()}
    out = SegmentAugment(gain=(1.0, 1.0), noise_uv=0.0, p_drop_segment=0.0, p_lowpass=0.5,
                         lowpass_hz=(30.0, 50.0))(batch)  # fmt: skip
    power = torch.fft.rfft(out["waveform"][:, 0]).abs()
    at_10, at_60 = power[:, 100], power[:, 600]
    filtered = at_60 < 1.0
    assert 0.35 < float(filtered.float().mean()) < 0.65
    torch.testing.assert_close(at_10, torch.full_like(at_10, float(at_10[0])), rtol=1e-3, atol=1e-2)
    torch.testing.assert_close(out["waveform"][~filtered], batch["waveform"][~filtered])
    with pytest.raises(ValueError):
        SegmentAugment(lowpass_hz=(0.0, 40.0))


def test_tilt_changes_the_spectral_exponent_and_the_maps_by_the_same_law() -> None:
    torch.manual_seed(0)
    wave = torch.randn(2, 19, 2000) * 10
    topo = torch.ones(2, 5, 32, 32)
    out = SegmentAugment(gain=(1, 1), noise_uv=0, p_drop_segment=0, p_tilt=1.0, tilt=(0.3, 0.3))(
        {"waveform": wave, "topomap": topo})
    power = lambda x: torch.fft.rfft(x.double()).abs() ** 2  # noqa: E731
    ratio = power(out["waveform"]) / power(wave)  # (B, C, F), exactly the applied law
    freqs = torch.fft.rfftfreq(2000, 1 / 200)
    at = lambda f: ratio[..., int(f * 10)].mean().item()  # noqa: E731 - 0.1 Hz bins
    assert at(2.0) == pytest.approx(5.0 ** 0.3, rel=1e-4) and at(10.0) == pytest.approx(1.0, rel=1e-4)
    assert at(40.0) == pytest.approx(0.25 ** 0.3, rel=1e-4) and freqs[20] == 2.0
    delta_centre = (1.0 * 4.0) ** 0.5  # the topomap's delta band, at its geometric centre
    assert (out["topomap"][:, 0] - 1).mean().item() == pytest.approx(-0.3 * math.log10(delta_centre / 10), rel=1e-5)


def test_interpolated_electrodes_are_the_spline_estimate_and_bipolar_rows_untouched() -> None:
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.signal.interpolate import spherical_spline_matrix

    torch.manual_seed(1)
    wave = torch.randn(3, 19, 400)
    mask = torch.ones(3, 19, dtype=torch.bool)
    batch = {"waveform": wave, "channel_mask": mask, "montage": ["referential", "referential", "bipolar"]}
    out = SegmentAugment(gain=(1, 1), noise_uv=0, p_drop_segment=0, p_interp=1.0, interp_max=3)(batch)
    for i in range(2):
        changed = [c for c in range(19) if not torch.equal(out["waveform"][i, c], wave[i, c])]
        assert 1 <= len(changed) <= 3
        sources = [c for c in range(19) if c not in changed]
        w = spherical_spline_matrix(tuple(CANONICAL_19[c] for c in sources), tuple(CANONICAL_19[c] for c in changed))
        torch.testing.assert_close(out["waveform"][i, changed], torch.tensor(w, dtype=wave.dtype) @ wave[i, sources])
    assert torch.equal(out["waveform"][2], wave[2]) and torch.equal(out["channel_mask"], mask)


def test_louder_background_is_smooth_average_referenced_and_the_maps_match() -> None:
    """Added background: within [0, background_uv] RMS, average-referenced over the present rows, zero on
    masked rows, neighbours correlated more than distant electrodes; left alone on bipolar segments and on
    segments labelled with a voltage-ratio finding; the scalp map equals the band_topomaps of the result
    where the original map was of the original signal (checked on a flat input plus a constant map)."""
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.signal.bands import BANDS_HZ, band_powers

    torch.manual_seed(0)
    b = 64
    wave = torch.zeros(b, 19, 2000)
    mask = torch.ones(b, 19, dtype=torch.bool)
    mask[:, 5] = False
    findings = torch.zeros(b, len(CODES))
    findings[0, list(CODES).index("burst_suppression")] = 1
    findings[1, list(CODES).index("asymmetry")] = 1
    montage = ["bipolar"] + ["referential"] * (b - 1)
    topo = torch.full((b, 5, 32, 32), -3.0)
    topo[..., 0, 0] = 0  # outside the head disk
    aug = SegmentAugment(gain=(1, 1), noise_uv=0, p_drop_segment=0, p_background=1.0, background_uv=10.0,
                         background_exponent=(1.5, 1.5), background_length_m=(0.15, 0.15))  # fmt: skip
    out = aug({"waveform": wave, "channel_mask": mask, "montage": montage, "findings": findings, "topomap": topo})
    w = out["waveform"]
    assert torch.equal(w[:2], wave[:2]) and torch.equal(out["topomap"][:2], topo[:2])
    rms = w[2:][:, mask[0]].pow(2).mean((1, 2)).sqrt()
    assert (rms <= 10.0 + 1e-3).all() and rms.max() > 5.0 and rms.std() > 1.0  # uniform in [0, 10]
    assert w[2:, 5].abs().max() == 0 and w[2:][:, mask[0]].mean(1).abs().max() < 1e-4
    corr = torch.stack([torch.corrcoef(x[mask[0]]) for x in w[2:]]).mean(0)
    names = [c for c, m in zip(CANONICAL_19, mask[0].tolist(), strict=True) if m]
    near, far = corr[names.index("C3"), names.index("P3")], corr[names.index("Fp1"), names.index("O2")]
    assert near > 0.3 and near > far + 0.3
    # 1/f^1.5: 1-4 Hz power over 13-30 Hz power is far above white noise's (3 Hz / 17 Hz)
    powers = band_powers(w[2].double().numpy()[mask[0].numpy()], 200.0)
    assert powers[:, 0].mean() / powers[:, 3].mean() > 5.0
    # the map: log10(10**map + mean band power over the present rows); pixels outside the disk stay 0
    bands = list(BANDS_HZ)
    expected = torch.log10(10.0**-3 + torch.tensor(band_powers(w[2].double().numpy()[mask[0].numpy()], 200.0,
                                                               window_s=10.0)).mean(0))  # fmt: skip
    got = out["topomap"][2, :, 5, 5].double()
    assert len(bands) == 5 and torch.allclose(got, expected, atol=0.15)
    assert out["topomap"][2:, :, 0, 0].abs().max() == 0


def test_injected_muscle_sets_its_label_and_the_map_follows_the_waveform() -> None:
    """p_muscle: a 20-90 Hz burst on 1-3 temporalis/frontalis electrodes, the muscle label set, nothing
    else touched; the redrawn scalp map is close to the map drawn from the augmented waveform itself."""
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.io.channels import CANONICAL_19
    from neuronarrator.signal.topomap import band_topomaps

    torch.manual_seed(3)
    b = 6
    wave = torch.randn(b, 19, 2000).cumsum(-1) * 0.5  # smooth, EEG-like low-frequency power
    wave = wave - wave.mean(-1, keepdim=True)
    mask = torch.ones(b, 19, dtype=torch.bool)
    mask[:, CANONICAL_19.index("T8")] = False
    topo = torch.from_numpy(np.stack([band_topomaps(w.numpy(), 200.0, CANONICAL_19, channel_mask=mask[0].numpy())
                                      for w in wave])).float()  # fmt: skip
    findings = torch.zeros(b, len(CODES))
    montage = ["referential"] * (b - 1) + ["bipolar"]
    out = SegmentAugment(gain=(1, 1), noise_uv=0, p_drop_segment=0, p_muscle=1.0)(
        {"waveform": wave, "channel_mask": mask, "montage": montage, "findings": findings, "topomap": topo})
    muscle = list(CODES).index("muscle_artifact")
    assert out["findings"][: b - 1, muscle].eq(1).all() and out["findings"][b - 1].eq(0).all()
    assert out["findings"][:, [i for i in range(len(CODES)) if i != muscle]].eq(0).all()
    sites = {CANONICAL_19.index(c) for c in ("F7", "F8", "T7", "Fp1", "Fp2")}  # T8 is masked
    for i in range(b - 1):
        changed = {int(c) for c in ((out["waveform"][i] - wave[i]).abs().amax(-1) > 0).nonzero().flatten()}
        assert 1 <= len(changed) <= 3 and changed <= sites
        spectrum = torch.fft.rfft(out["waveform"][i] - wave[i]).abs() ** 2
        freqs = torch.fft.rfftfreq(2000, 1 / 200)
        assert spectrum[:, freqs < 19].sum() < 1e-3 * spectrum.sum()  # nothing below 20 Hz
        redrawn = band_topomaps(out["waveform"][i].numpy(), 200.0, CANONICAL_19, channel_mask=mask[0].numpy())
        inside = topo[i, 0] != 0
        # to 0.2 log10: the redrawn map adds the burst's periodogram power, the reference is Welch's of the sum
        assert torch.allclose(out["topomap"][i][:, inside], torch.from_numpy(redrawn).float()[:, inside], atol=0.2)
        assert (out["topomap"][i, 3:][:, inside] - topo[i, 3:][:, inside]).amax() > 0.3  # beta/gamma rose
    assert torch.equal(out["waveform"][b - 1], wave[b - 1]) and torch.equal(out["topomap"][b - 1], topo[b - 1])


def test_sparse_psg_layouts_are_the_polysomnography_rows_present() -> None:
    """p_sparse_psg: sparse segments keep one of the PSG layouts of their montage (rows not recorded stay
    out); with 0 the random rows of before."""
    from neuronarrator.models.augment import PSG_LAYOUTS

    torch.manual_seed(5)
    batch = _batch(200)
    batch["montage"] = ["referential"] * 100 + ["bipolar"] * 100
    batch["channel_mask"][:, 18] = False  # O2 (referential) / the unused 19th row (bipolar)
    out = SegmentAugment(noise_uv=0.0, p_drop_segment=0.0, p_sparse=1.0, p_sparse_psg=1.0)(batch)
    for i in range(200):
        kept = set(torch.where(out["channel_mask"][i])[0].tolist())
        present = set(torch.where(batch["channel_mask"][i])[0].tolist())
        layouts = [set(rows) & present for rows in PSG_LAYOUTS[batch["montage"][i]]]
        assert kept in layouts, (i, kept)
    assert {"F4", "C4", "O2"} == {CANONICAL_19[r] for r in PSG_LAYOUTS["referential"][0]}
    assert {DOUBLE_BANANA[r] for r in PSG_LAYOUTS["bipolar"][0]} == {("Fz", "Cz"), ("P3", "O1"), ("P4", "O2")}
