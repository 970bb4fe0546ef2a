"""The bridge pushed piece by piece gives the prefix of the whole sequence at once."""

from __future__ import annotations

import pytest
import torch

from neuronarrator.models.bridge import BridgeConfig, StateSpaceBridge
from neuronarrator.models.bridge_stream import BridgeStream


@pytest.mark.parametrize("pieces", [[37], [1, 36], [5, 5, 5, 22], [3, 1, 1, 32]])
def test_pieces_give_the_whole_sequence_prefix(pieces):
    torch.manual_seed(0)
    cfg = BridgeConfig(d_seg=16, d_spec=10, d_model=32, n_layers=2, d_state=8, n_prefix=4, d_lm=24,
                       scan="sequential")  # fmt: skip
    bridge = StateSpaceBridge(cfg).eval()
    n_steps = sum(pieces)
    seg, spec = torch.randn(1, n_steps, 16), torch.randn(1, n_steps, 10)
    with torch.no_grad():
        whole = bridge(seg, spec)
    stream = BridgeStream(bridge)
    start = 0
    for t in pieces:
        stream.push(seg[:, start : start + t], spec[:, start : start + t])
        start += t
    assert stream.n_steps == n_steps
    torch.testing.assert_close(stream.prefix(), whole, rtol=1e-5, atol=1e-6)
    # the state really is carried: starting the last piece afresh changes the prefix
    fresh = BridgeStream(bridge)
    fresh.push(seg[:, : n_steps - pieces[-1]] * 0, spec[:, : n_steps - pieces[-1]] * 0)
    fresh.push(seg[:, n_steps - pieces[-1] :], spec[:, n_steps - pieces[-1] :])
    if len(pieces) > 1:
        assert not torch.allclose(fresh.prefix(), whole, atol=1e-4)


def test_needs_one_session_and_a_step():
    bridge = StateSpaceBridge(BridgeConfig.tiny()).eval()
    stream = BridgeStream(bridge)
    with pytest.raises(ValueError, match="at least one step"):
        stream.prefix()
    with pytest.raises(ValueError, match="one session"):
        stream.push(torch.zeros(2, 3, 16), torch.zeros(2, 3, 10))
