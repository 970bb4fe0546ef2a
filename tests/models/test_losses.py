"""symmetric_info_nce and LearnableTemperature."""

from __future__ import annotations

import math

import pytest
import torch

from neuronarrator.models.losses import MAX_LOGIT_SCALE, LearnableTemperature, symmetric_info_nce


def test_matched_pairs_beat_shuffled() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(16, 32, generator=gen)
    b = a + 0.1 * torch.randn(16, 32, generator=gen)
    matched = symmetric_info_nce(a, b)
    shuffled = symmetric_info_nce(a, b[torch.roll(torch.arange(16), 1)])
    assert matched < shuffled
    assert matched < math.log(16) < shuffled  # log(n) is chance level


def test_equals_hand_computation() -> None:
    # Unit vectors, so normalisation inside is a no-op; cosines are 1, 0 and 0.6.
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    tau = 0.5
    s = torch.tensor([[0.8, 0.0], [0.6, 1.0]]) / tau  # a @ b.T / tau
    row = (-torch.log_softmax(s, dim=1).diagonal()).mean()
    col = (-torch.log_softmax(s, dim=0).diagonal()).mean()
    expected = (row + col) / 2
    # and the same by hand: CE row 0 = log(e^1.6 + e^0) - 1.6, etc.
    by_hand_row = (math.log(math.exp(1.6) + 1) - 1.6 + math.log(math.exp(1.2) + math.exp(2.0)) - 2.0) / 2
    by_hand_col = (math.log(math.exp(1.6) + math.exp(1.2)) - 1.6 + math.log(1 + math.exp(2.0)) - 2.0) / 2
    assert expected.item() == pytest.approx((by_hand_row + by_hand_col) / 2, rel=1e-6)
    assert symmetric_info_nce(a, b, temperature=tau).item() == pytest.approx(expected.item(), rel=1e-6)
    # Scale does not matter: inputs are normalised inside.
    assert symmetric_info_nce(3 * a, 7 * b, temperature=tau).item() == pytest.approx(
        expected.item(), rel=1e-6
    )


def test_gradient_flows_to_inputs_and_temperature() -> None:
    a = torch.randn(8, 16, requires_grad=True)
    b = torch.randn(8, 16, requires_grad=True)
    temperature = LearnableTemperature()
    loss = symmetric_info_nce(a, b, temperature())
    loss.backward()
    for grad in (a.grad, b.grad, temperature.log_scale.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_learnable_temperature_starts_at_007_and_is_clamped() -> None:
    temperature = LearnableTemperature()
    assert temperature().item() == pytest.approx(0.07, rel=1e-6)
    with torch.no_grad():
        temperature.log_scale.fill_(10.0)  # scale e^10 ≫ 100
    assert temperature().item() == pytest.approx(1 / MAX_LOGIT_SCALE, rel=1e-6)
    with pytest.raises(ValueError, match="at least"):
        LearnableTemperature(0.001)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        symmetric_info_nce(torch.randn(4, 8), torch.randn(5, 8))
