"""Topographic maps: projection, spherical-spline interpolation matrix, cache, masks, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.signal.bands import BANDS_HZ
from neuronarrator.signal.topomap import (
    _electrode_directions,
    band_topomaps,
    grid_coordinates,
    interpolation_matrix,
    projected_positions,
    scalp_mask,
    spline_matrix,
    topomaps,
)

GRID = 32
DATA = (Path(__file__).parents[2] / "../shared/data").resolve()
LEFT = ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1")
RIGHT = ("Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2")


def _nearest_inside_pixel(xy: np.ndarray, grid_size: int = GRID) -> list[tuple[int, int]]:
    x, y = grid_coordinates(grid_size)
    inside = scalp_mask(grid_size)
    pixels = []
    for px, py in xy:
        dist = np.where(inside, (x - px) ** 2 + (y - py) ** 2, np.inf)
        pixels.append(np.unravel_index(np.argmin(dist), dist.shape))
    return pixels


def test_projection_is_the_usual_top_view():
    xy = dict(zip(CANONICAL_19, projected_positions(CANONICAL_19), strict=True))
    assert np.hypot(*xy["Cz"]) < 0.05  # vertex at the centre
    assert all(xy[ch][0] < -0.2 for ch in LEFT) and all(xy[ch][0] > 0.2 for ch in RIGHT)
    assert xy["Fz"][1] > 0.3 and xy["Pz"][1] < -0.3 and xy["Fp1"][1] > xy["O1"][1]
    radii = np.hypot(*projected_positions(CANONICAL_19).T)
    assert radii.max() <= 1.0 + 1e-9 and radii.max() > 0.99  # all inside, the lowest on the circle


def test_spline_reproduces_the_electrode_values():
    directions = _electrode_directions(CANONICAL_19)
    np.testing.assert_allclose(spline_matrix(directions, directions), np.eye(19), atol=1e-3)


def test_maps_match_channel_values_at_the_nearest_pixels():
    xy = projected_positions(CANONICAL_19)
    pixels = _nearest_inside_pixel(xy)
    smooth = xy[:, 0] + 0.5 * xy[:, 1]  # a smooth field: the map should hold it to within a pixel's slope
    field = topomaps(smooth, CANONICAL_19)
    np.testing.assert_allclose([field[p] for p in pixels], smooth, atol=0.06)
    rough = np.random.default_rng(0).standard_normal(19)  # rough: still strongly correlated
    rough_map = topomaps(rough, CANONICAL_19)
    assert np.corrcoef([rough_map[p] for p in pixels], rough)[0, 1] > 0.9


def test_maps_are_linear():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 19))
    np.testing.assert_allclose(
        topomaps(2 * a + b, CANONICAL_19),
        2 * topomaps(a, CANONICAL_19) + topomaps(b, CANONICAL_19),
        atol=1e-12,
    )


def test_constant_input_is_constant_inside_and_zero_outside():
    field = topomaps(np.full(19, 3.5), CANONICAL_19)
    inside = scalp_mask(GRID)
    np.testing.assert_allclose(field[inside], 3.5, atol=1e-9)
    assert np.all(field[~inside] == 0) and 0.7 < inside.mean() < 0.85  # a disc covers pi/4 of a square


def test_left_lateralised_input_gives_a_higher_left_half():
    values = np.array([1.0 if ch in LEFT else -1.0 if ch in RIGHT else 0.0 for ch in CANONICAL_19])
    field = topomaps(values, CANONICAL_19)
    inside = scalp_mask(GRID)
    left, right = field[:, : GRID // 2], field[:, GRID // 2 :]
    assert left[inside[:, : GRID // 2]].mean() > 0.5 > -0.5 > right[inside[:, GRID // 2 :]].mean()


def test_batches_and_dtype():
    rng = np.random.default_rng(2)
    values = rng.standard_normal((3, 5, 19)).astype(np.float32)
    maps = topomaps(values, CANONICAL_19)
    assert maps.shape == (3, 5, GRID, GRID) and maps.dtype == np.float32
    np.testing.assert_allclose(maps[2, 4], topomaps(values[2, 4].astype(np.float64), CANONICAL_19), atol=1e-5)
    assert topomaps(values[0, 0], CANONICAL_19, grid_size=16).shape == (16, 16)


def test_matrix_is_computed_once_per_channel_set_and_grid():
    names = CANONICAL_19[:-1]  # a key no other test uses, so the first call is a miss
    before = interpolation_matrix.cache_info()
    mask = np.array([ch != "O2" for ch in CANONICAL_19])
    topomaps(np.ones((2, 19)), CANONICAL_19, channel_mask=mask)
    middle = interpolation_matrix.cache_info()
    topomaps(np.ones((4, 19)), CANONICAL_19, channel_mask=mask)
    after = interpolation_matrix.cache_info()
    assert middle.misses == before.misses + 1 and after.hits == middle.hits + 1
    assert after.misses == middle.misses
    assert interpolation_matrix(names, GRID) is interpolation_matrix(names, GRID)
    assert not interpolation_matrix(names, GRID).flags.writeable  # the shared copy cannot be corrupted


def test_masked_channels_do_not_reach_the_map():
    rng = np.random.default_rng(3)
    values = rng.standard_normal(19)
    mask = np.ones(19, bool)
    mask[CANONICAL_19.index("T7")] = False
    spoiled = values.copy()
    spoiled[CANONICAL_19.index("T7")] = 1e6
    np.testing.assert_allclose(
        topomaps(spoiled, CANONICAL_19, channel_mask=mask), topomaps(values, CANONICAL_19, channel_mask=mask)
    )
    subset = tuple(ch for ch in CANONICAL_19 if ch != "T7")
    np.testing.assert_allclose(
        topomaps(values, CANONICAL_19, channel_mask=mask), topomaps(values[mask], subset), atol=1e-12
    )
    with pytest.raises(ValueError, match="channels"):
        topomaps(values[:5], CANONICAL_19)


def test_band_topomaps_of_a_left_alpha_source():
    t = np.arange(6000) / 200.0
    rng = np.random.default_rng(4)
    data = rng.standard_normal((19, t.size)) * 2.0
    for ch in ("O1", "P3", "P7"):
        data[CANONICAL_19.index(ch)] += 20 * np.sin(2 * np.pi * 10 * t)
    maps = band_topomaps(data, 200.0, CANONICAL_19)
    assert maps.shape == (len(BANDS_HZ), GRID, GRID)
    alpha = maps[list(BANDS_HZ).index("alpha")]
    left_back, right_back = alpha[GRID * 3 // 4, GRID // 4], alpha[GRID * 3 // 4, GRID * 3 // 4]
    assert left_back > right_back + 1.0  # more than 10x the alpha power (log10 units)


@pytest.mark.skipif(not (DATA / "eegmmidb" / "S001R02.edf").is_file(), reason=f"real EEG not found at {DATA}")
def test_real_eyes_closed_alpha_map_is_posterior():
    from neuronarrator.io.harmonize import harmonize
    from neuronarrator.io.read import read_recording

    h = harmonize(read_recording(DATA / "eegmmidb" / "S001R02.edf"))
    alpha = band_topomaps(h.data_uv, h.sfreq_hz, h.channels, channel_mask=h.channel_mask)[2]
    inside = scalp_mask(GRID)
    quarter = GRID // 4
    back = alpha[-quarter:][inside[-quarter:]].mean()
    front = alpha[:quarter][inside[:quarter]].mean()
    # Measured: back quarter mean log10 alpha power 3.07 vs front quarter 2.55 (3.3x in power; the
    # average reference carries some occipital alpha to Fp1/Fp2, so the contrast is not larger).
    assert back > front + 0.3
