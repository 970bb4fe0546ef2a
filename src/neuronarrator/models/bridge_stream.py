"""The state-space bridge run as a recurrence over pieces of a session: push segment steps as they come,
carrying each layer's state from one piece to the next, and read the prefix at the end.

:class:`~neuronarrator.models.bridge.StateSpaceBridge` runs a whole session at once: every
:class:`~neuronarrator.models.bridge.SelectiveSSM` layer materializes its decays, inputs and states for all
steps, (T, d_inner, N) floats each -- for a 24-hour recording (T = 8,640 steps) and the default bridge
(d_inner = 512, N = 16) 283 MB per tensor and layer. Everything in a layer but the scan and the causal
conv is per step, and those two need only a small state from the steps before:

- the scan ``h_t = a_t h_{t-1} + b_t``: the last state h (d_inner, N), passed as ``h0`` of the next piece;
- the causal depthwise conv (kernel k): the last k - 1 steps of its input ``u`` (d_inner, k - 1), put in
  front of the next piece's (zeros before the first step, as the conv's left padding).

So :class:`BridgeStream` holds, per layer, those two tensors, and per step only the stack's final normed
output (d_model floats, 0.25 MB for 8,640 steps of d_model = 64), from which :meth:`BridgeStream.prefix`
picks the ``n_prefix`` evenly spaced steps once the session's length is known (as
:meth:`StateSpaceBridge.forward` does). Memory in flight is bounded by the piece, not the session.

The arithmetic is :meth:`SelectiveSSM.forward`'s, step for step (a test checks the prefix against
:meth:`StateSpaceBridge.forward` on the whole sequence); one session at a time, without padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neuronarrator.models.bridge import SelectiveSSM, StateSpaceBridge, prefix_positions, selective_scan

__all__ = ["BridgeStream", "LayerState", "ssm_piece"]


@dataclass
class LayerState:
    """What one :class:`SelectiveSSM` layer carries between pieces (batch of one session)."""

    h: torch.Tensor  # (1, d_inner, N) the scan's state after the last step pushed
    conv_tail: torch.Tensor  # (1, d_inner, k - 1) the conv's input at the last k - 1 steps


def ssm_piece(layer: SelectiveSSM, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
    """:meth:`SelectiveSSM.forward` on the next piece ``x`` (1, t, d_model) of a session, given the state the
    previous pieces left (None: the session starts here) → (output (1, t, d_model), the state after it)."""
    u, z = layer.in_proj(x).chunk(2, dim=-1)  # (1, t, d_inner) each
    u_t = u.transpose(1, 2)  # (1, d_inner, t)
    kernel = layer.conv.kernel_size[0]
    tail = u_t.new_zeros(u_t.shape[0], u_t.shape[1], kernel - 1) if state is None else state.conv_tail
    conv_in = torch.cat([tail, u_t], dim=-1)  # (1, d_inner, k - 1 + t)
    conv = F.conv1d(conv_in, layer.conv.weight, layer.conv.bias, groups=layer.conv.groups)  # (1, d_inner, t)
    u = F.silu(conv.transpose(1, 2))  # (1, t, d_inner), causal
    dt_low, b_in, c_out = layer.x_proj(u).split([layer.dt_rank, layer.d_state, layer.d_state], dim=-1)
    dt = F.softplus(layer.dt_proj(dt_low))
    with torch.autocast(device_type=x.device.type, enabled=False):
        u32, dt, b_in, c_out = u.float(), dt.float(), b_in.float(), c_out.float()
        A = -torch.exp(layer.A_log.float())  # (d_inner, N)
        a = torch.exp(dt[..., None] * A)  # (1, t, d_inner, N)
        b = (dt * u32)[..., None] * b_in[:, :, None, :]
        h = selective_scan(a, b, None if state is None else state.h, method=layer.scan)
        y = (h * c_out[:, :, None, :]).sum(-1) + layer.D * u32
    out = layer.out_proj((y * F.silu(z.float())).to(x.dtype))
    new_tail = conv_in[..., conv_in.shape[-1] - (kernel - 1) :]
    return out, LayerState(h=h[:, -1], conv_tail=new_tail)


class BridgeStream:
    """One session through a :class:`StateSpaceBridge`, piece by piece (module docstring).

    ``push(segment_emb (1, t, d_seg), spectral (1, t, d_spec) or None)`` for each piece in time order, then
    ``prefix()`` → (1, n_prefix, d_lm), what ``bridge(whole_segment_emb, whole_spectral)`` gives.
    """

    def __init__(self, bridge: StateSpaceBridge) -> None:
        self.bridge = bridge
        self.states: list[LayerState | None] = [None] * len(bridge.blocks)
        self.outputs: list[torch.Tensor] = []  # (t, d_model) per piece: the stack's normed output

    @property
    def n_steps(self) -> int:
        return sum(len(o) for o in self.outputs)

    @torch.no_grad()
    def push(self, segment_emb: torch.Tensor, spectral: torch.Tensor | None = None) -> None:
        bridge = self.bridge
        if (spectral is None) != (bridge.cfg.d_spec == 0):
            raise ValueError(f"spectral must be given exactly when d_spec > 0 (d_spec = {bridge.cfg.d_spec})")
        if segment_emb.dim() != 3 or segment_emb.shape[0] != 1:
            raise ValueError(f"one session at a time: segment_emb must be (1, t, d_seg), got {tuple(segment_emb.shape)}")
        if segment_emb.shape[1] == 0:
            return
        x = segment_emb if spectral is None else torch.cat([segment_emb, spectral.to(segment_emb.dtype)], -1)
        x = bridge.in_proj(x)
        for i, block in enumerate(bridge.blocks):
            y, self.states[i] = ssm_piece(block.ssm, block.norm(x), self.states[i])
            x = x + y
        self.outputs.append(bridge.norm(x)[0])

    @torch.no_grad()
    def prefix(self) -> torch.Tensor:
        if not self.outputs:
            raise ValueError("every session needs at least one step; none was pushed")
        h = torch.cat(self.outputs)  # (T, d_model)
        steps = prefix_positions(torch.tensor([len(h)], device=h.device), self.bridge.cfg.n_prefix)[0]
        return self.bridge.to_lm(h[steps][None]) + self.bridge.slot_emb  # (1, n_prefix, d_lm)
