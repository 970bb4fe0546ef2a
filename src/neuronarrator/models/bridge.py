"""NeuroNarrator's state-space bridge: a session's segment sequence → prefix embeddings for the language model.

A recording is a sequence of 10-s segments (a 20-min EEG: 120 steps; a 24-h EEG: 8,640). Each step brings
a segment embedding (from CLEF's session encoder) and a spectral summary (log band powers per channel).
A stack of diagonal, input-selective state-space layers (S4D-real init, Mamba's selection mechanism) runs
over the whole sequence, so every step's state carries the recording's history; the states at a few evenly
spaced steps, the last being the final state, become the language model's prefix (DESIGN.md).

Layout, top to bottom: the linear recurrence :func:`selective_scan` (a sequential reference and a chunked
associative scan) → :class:`SelectiveSSM` (one Mamba-style layer) → :class:`BridgeConfig` →
:class:`StateSpaceBridge`.

The scan runs in float32 with autocast off: under bf16, ``exp(Δ·A)`` close to 1 rounds to exactly 1
(bf16 has 8 bits of mantissa) and a long recording's history would never decay, or decay in large steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Under ``method="auto"``, sequences at least this long use the parallel scan on CUDA, where the
#: sequential loop's cost is kernel launches (a few per step). On CPU the loop always wins: the scan is
#: memory-bound there and the parallel form moves log2(64) + 2 times as much data (measured, 1 thread:
#: T = 8,640, D·N = 1,024, forward + backward 0.7 s sequential, 2.2 s parallel).
PARALLEL_MIN_STEPS = 32
#: Chunk length of the parallel scan: log2(64) = 6 doubling steps within a chunk, then a scan over chunks.
SCAN_CHUNK = 64


# --- the linear recurrence h_t = a_t * h_{t-1} + b_t --------------------------------------------------------


def _scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Reference: one step at a time. a, b: (B, T, D, N); h0: (B, D, N) → h: (B, T, D, N)."""
    h, states = h0, []
    # unbind, not a[:, t]: each indexing op's backward writes a full (B, T, D, N) gradient, O(T²) in all
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, dim=1)


def _associative_scan(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive Hillis–Steele scan of the affine maps ``h ↦ a_t h + b_t`` along dim 1 (log2 T steps).

    Returns (A, B), each shaped as ``a``: ``h_t = A_t h_{-1} + B_t``. Only products and sums of the
    inputs appear (no division, no exp of a cumulative log), so decays near 0 cannot overflow.
    """
    n_steps, offset = a.shape[1], 1
    while offset < n_steps:
        # compose step t with step t - offset; b first, as it needs the old a
        b = torch.cat([b[:, :offset], a[:, offset:] * b[:, :-offset] + b[:, offset:]], dim=1)
        a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], dim=1)
        offset *= 2
    return a, b


def _scan_chunked(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, chunk: int = SCAN_CHUNK
) -> torch.Tensor:
    """Parallel: an associative scan within chunks of ``chunk`` steps, then (recursively) across chunks.

    Working within chunks bounds the doubling scan's extra memory to log2(chunk) copies rather than
    log2(T). a, b: (B, T, D, N); h0: (B, D, N) → h: (B, T, D, N).
    """
    batch, n_steps = a.shape[:2]
    if n_steps <= chunk:
        a_cum, b_cum = _associative_scan(a, b)
        return a_cum * h0[:, None] + b_cum
    n_chunks = -(-n_steps // chunk)
    pad = n_chunks * chunk - n_steps
    if pad:  # identity steps (a = 1, b = 0) at the end leave every real state as it is
        a = F.pad(a, (0, 0, 0, 0, 0, pad), value=1.0)
        b = F.pad(b, (0, 0, 0, 0, 0, pad), value=0.0)
    rest = a.shape[2:]
    a_loc, b_loc = _associative_scan(
        a.reshape(batch * n_chunks, chunk, *rest), b.reshape(batch * n_chunks, chunk, *rest)
    )
    a_loc = a_loc.reshape(batch, n_chunks, chunk, *rest)  # (B, C, L, D, N)
    b_loc = b_loc.reshape(batch, n_chunks, chunk, *rest)
    h_end = _scan_chunked(
        a_loc[:, :, -1], b_loc[:, :, -1], h0, chunk
    )  # (B, C, D, N): state at each chunk's end
    h_start = torch.cat([h0[:, None], h_end[:, :-1]], dim=1)  # (B, C, D, N): state before each chunk
    h = a_loc * h_start[:, :, None] + b_loc  # (B, C, L, D, N)
    return h.reshape(batch, n_chunks * chunk, *rest)[:, :n_steps]


SCANS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sequential": _scan_sequential,
    "parallel": _scan_chunked,
}


def selective_scan(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, method: str = "auto"
) -> torch.Tensor:
    """The diagonal linear recurrence ``h_t = a_t * h_{t-1} + b_t``, elementwise, in float32.

    Parameters
    ----------
    a : tensor, shape (B, T, D, N)
        Per-step decays; any real values work, the bridge's lie in (0, 1] (``exp(Δ·A)``, A < 0).
    b : tensor, shape (B, T, D, N)
        Per-step inputs.
    h0 : tensor, shape (B, D, N), optional
        State before the first step; zeros when None.
    method : {"auto", "sequential", "parallel"}
        "sequential" is the step-by-step reference loop; "parallel" a chunked associative (Hillis–Steele)
        scan, log2(64) doubling steps within 64-step chunks and the same scan, recursively, across chunks.
        "auto" is parallel on CUDA from ``PARALLEL_MIN_STEPS`` steps on, sequential otherwise.

    Returns
    -------
    h : tensor, shape (B, T, D, N), float32
        The state after every step. Differentiable in ``a``, ``b`` and ``h0``.

    Notes
    -----
    The log-space form ``h_t = P_t Σ_s b_s / P_s`` (``P_t = Π a``, two cumulative sums) was not used: with
    decays near 0, ``1 / P_s`` overflows within a few steps, and chunking only postpones it.
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"a and b must both be (B, T, D, N), got {tuple(a.shape)} and {tuple(b.shape)}")
    if method == "auto":
        method = "parallel" if a.is_cuda and a.shape[1] >= PARALLEL_MIN_STEPS else "sequential"
    if method not in SCANS:
        raise ValueError(f"method must be 'auto' or one of {sorted(SCANS)}, got {method!r}")
    a, b = a.float(), b.float()
    h0 = a.new_zeros(a.shape[0], *a.shape[2:]) if h0 is None else h0.float()
    if h0.shape != (a.shape[0], *a.shape[2:]):
        raise ValueError(f"h0 must be (B, D, N) = {(a.shape[0], *a.shape[2:])}, got {tuple(h0.shape)}")
    if a.shape[1] == 0:
        return a.new_zeros(a.shape)
    return SCANS[method](a, b, h0)


# --- one selective state-space layer ------------------------------------------------------------------------


class SelectiveSSM(nn.Module):
    """A Mamba-style diagonal selective SSM layer, causal in time.

    ``x → (u, z)``; ``u`` → causal depthwise conv → SiLU; from ``u``: step sizes
    ``Δ_t = softplus(W_Δ u_t + bias)`` (d_inner), input and output maps ``B_t, C_t`` (N each). With
    ``A = -exp(A_log)`` (d_inner × N, S4D-real init ``A = -(1..N)``) the discretisation is Mamba's
    simplified zero-order hold: ``a_t = exp(Δ_t A)``, ``b_t = Δ_t B_t u_t``; then ``h_t = a_t h_{t-1} + b_t``,
    ``y_t = C_t · h_t + D u_t``, gated by ``SiLU(z_t)`` and projected back to d_model.

    Padded steps (``pad_mask`` True) get ``Δ = 0``, hence ``a = 1`` and ``b = 0`` exactly: the state passes
    through them unchanged; their ``u`` is zeroed before the conv, so they reach no later step through it.
    Padding must lead or trail: within a session, a gap of padding would stand in for the steps before it
    in the conv's window (:class:`StateSpaceBridge` moves any padding to the end first).

    Parameters
    ----------
    d_model : int
        Width of the input and output.
    d_state : int
        N, the state size per channel.
    expand : int
        d_inner = expand · d_model.
    d_conv : int
        Kernel of the causal depthwise conv (1 = none in effect).
    dt_rank : int
        Rank of the Δ projection (Mamba: ceil(d_model / 16)).
    dt_min, dt_max : float
        Range of the initial Δ (log-uniform), in steps: the initial memory spans about 1/Δ steps.
    scan : {"auto", "sequential", "parallel"}
        Method of :func:`selective_scan`.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        expand: int = 2,
        d_conv: int = 4,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        scan: str = "auto",
    ) -> None:
        super().__init__()
        d_inner = expand * d_model
        self.d_state, self.dt_rank, self.scan = d_state, dt_rank or math.ceil(d_model / 16), scan
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        # Mamba's Δ init: bias = softplus⁻¹(Δ0) with Δ0 log-uniform in [dt_min, dt_max]
        nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
        dt0 = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt0 + torch.log(-torch.expm1(-dt0)))
        # S4D-real: A = -(1, 2, ..., N) for every channel, kept positive-definite through the exp
        self.A_log = nn.Parameter(
            torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1)
        )
        self.D = nn.Parameter(torch.ones(d_inner))

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, d_model); pad_mask: (B, T) bool, True = padding (leading or trailing) → (B, T, d_model).

        Outputs at padded steps are meaningless; the state they pass on is not.
        """
        n_steps = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, T, d_inner) each
        if pad_mask is not None:
            u = u.masked_fill(pad_mask[..., None], 0.0)
        u = F.silu(self.conv(u.transpose(1, 2))[..., :n_steps].transpose(1, 2))  # (B, T, d_inner), causal
        dt_low, b_in, c_out = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(self.dt_proj(dt_low))  # (B, T, d_inner)
        if pad_mask is not None:
            dt = dt.masked_fill(pad_mask[..., None], 0.0)
        with torch.autocast(device_type=x.device.type, enabled=False):
            u32, dt, b_in, c_out = u.float(), dt.float(), b_in.float(), c_out.float()
            A = -torch.exp(self.A_log.float())  # (d_inner, N)
            a = torch.exp(dt[..., None] * A)  # (B, T, d_inner, N)
            b = (dt * u32)[..., None] * b_in[:, :, None, :]  # (B, T, d_inner, N)
            h = selective_scan(a, b, method=self.scan)  # (B, T, d_inner, N)
            y = (h * c_out[:, :, None, :]).sum(-1) + self.D * u32  # (B, T, d_inner)
        return self.out_proj((y * F.silu(z.float())).to(x.dtype))


# --- the bridge ------------------------------------------------------------------------------------------


@dataclass
class BridgeConfig:
    d_seg: int = 512  # width of a segment embedding (CLEF's session encoder: 512)
    d_spec: int = 95  # width of a step's spectral summary (5 log band powers × 19 channels); 0 = none
    d_model: int = 256  # width of the recurrent stack's residual stream
    n_layers: int = 4  # residual pre-norm SelectiveSSM blocks
    d_state: int = 16  # N, state size per inner channel (Mamba: 16)
    expand: int = 2  # inner width = expand · d_model (Mamba: 2)
    d_conv: int = 4  # causal depthwise conv kernel, in steps (Mamba: 4)
    dt_min: float = 1e-3  # shortest initial Δ: memory of ~1,000 steps (a 24-h EEG is 8,640)
    dt_max: float = 0.1  # longest initial Δ: memory of ~10 steps
    n_prefix: int = 8  # prefix embeddings handed to the language model
    d_lm: int = 768  # the language model's embedding width (GPT-2 small: 768)
    scan: str = "auto"  # selective_scan method: "auto", "sequential" or "parallel"

    def __post_init__(self) -> None:
        if self.n_prefix < 1 or self.n_layers < 1:
            raise ValueError(f"n_prefix and n_layers must be >= 1, got {self.n_prefix} and {self.n_layers}")
        if self.scan not in ("auto", *SCANS):
            raise ValueError(f"scan must be 'auto' or one of {sorted(SCANS)}, got {self.scan!r}")

    @classmethod
    def tiny(cls) -> BridgeConfig:
        """A few thousand parameters, for tests."""
        return cls(d_seg=16, d_spec=10, d_model=32, n_layers=2, d_state=8, n_prefix=4, d_lm=24)


class _Block(nn.Module):
    """Pre-norm residual: ``x + SSM(LayerNorm(x))``."""

    def __init__(self, cfg: BridgeConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.d_model)
        self.ssm = SelectiveSSM(
            cfg.d_model,
            cfg.d_state,
            cfg.expand,
            cfg.d_conv,
            dt_min=cfg.dt_min,
            dt_max=cfg.dt_max,
            scan=cfg.scan,
        )

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None) -> torch.Tensor:
        return x + self.ssm(self.norm(x), pad_mask)


def prefix_positions(valid_len: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """Steps ``ceil(k · L / n_prefix) - 1`` for k = 1..n_prefix: evenly spaced, the last = L - 1.

    valid_len: (B,) int, each >= 1 → (B, n_prefix) int64, indices into the valid steps. A session shorter
    than ``n_prefix`` repeats steps (L = 1: every slot reads step 0).
    """
    k = torch.arange(1, n_prefix + 1, device=valid_len.device)
    return (k * valid_len[:, None].long() + n_prefix - 1) // n_prefix - 1


class StateSpaceBridge(nn.Module):
    """Segment embeddings + spectral summaries of a session → ``n_prefix`` prefix embeddings for the LM.

    Readout: the final layer's (normed) output at ``n_prefix`` evenly spaced valid steps, the last one
    being the final step, through one learned projection to ``d_lm`` plus a learned embedding per prefix
    slot (so the LM can tell early from late). Each output is ``C_t · h_t`` of the recurrent states, so
    slot k summarises the recording up to its k-th fraction and the last slot the whole of it.
    Learned-query attention pooling was not used: it would let the prefix bypass the recurrence and read
    steps directly, giving up the time order that the evenly spaced states keep at no cost.

    Sessions of different lengths share a batch through ``pad_mask``; padding may sit anywhere (usually
    at the end): :meth:`forward` first moves every session's valid steps to the front, in order. A padded
    row gives the same prefix as the session alone, to float rounding.
    """

    def __init__(self, cfg: BridgeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_proj = nn.Linear(cfg.d_seg + cfg.d_spec, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.to_lm = nn.Linear(cfg.d_model, cfg.d_lm)
        self.slot_emb = nn.Parameter(torch.zeros(cfg.n_prefix, cfg.d_lm))
        nn.init.normal_(self.slot_emb, std=0.02)

    def states(
        self,
        segment_emb: torch.Tensor,
        spectral: torch.Tensor | None = None,
        pad_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The per-step outputs of the recurrent stack, normed.

        Parameters
        ----------
        segment_emb : tensor, shape (B, T, d_seg)
        spectral : tensor, shape (B, T, d_spec), optional
            Standardised log band powers (or spectrogram tokens); required when ``d_spec > 0``.
        pad_mask : tensor, shape (B, T), bool, optional
            True at padding steps, which must lead or trail (see :class:`SelectiveSSM`); their values are
            ignored (NaN allowed).

        Returns
        -------
        tensor, shape (B, T, d_model)
            Step t depends on valid steps <= t only; values at padded steps are meaningless.
        """
        if (spectral is None) != (self.cfg.d_spec == 0):
            raise ValueError(f"spectral must be given exactly when d_spec > 0 (d_spec = {self.cfg.d_spec})")
        x = (
            segment_emb
            if spectral is None
            else torch.cat([segment_emb, spectral.to(segment_emb.dtype)], dim=-1)
        )
        if pad_mask is not None:
            x = x.masked_fill(pad_mask[..., None], 0.0)  # a NaN in padding would survive Δ = 0 as 0 · NaN
        x = self.in_proj(x)  # (B, T, d_model)
        for block in self.blocks:
            x = block(x, pad_mask)
        return self.norm(x)

    def forward(
        self,
        segment_emb: torch.Tensor,
        spectral: torch.Tensor | None = None,
        pad_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T, d_seg), (B, T, d_spec), (B, T) bool → prefix embeddings (B, n_prefix, d_lm).

        Every session needs at least one valid step.
        """
        batch, n_steps = segment_emb.shape[:2]
        if n_steps == 0:
            raise ValueError("every session needs at least one valid (unpadded) step")
        valid_len = torch.full((batch,), n_steps, device=segment_emb.device)
        if pad_mask is not None:
            pad_mask = pad_mask.bool()
            valid_len = (~pad_mask).sum(1)
            if bool((valid_len == 0).any()):
                raise ValueError("every session needs at least one valid (unpadded) step")
            # valid steps first, in time order, padding after: order[b, i] = time of session b's i-th valid step
            order = torch.argsort(pad_mask.to(torch.int8), dim=1, stable=True)  # (B, T)
            segment_emb = segment_emb.gather(1, order[..., None].expand_as(segment_emb))
            if spectral is not None:
                spectral = spectral.gather(1, order[..., None].expand_as(spectral))
            pad_mask = pad_mask.gather(1, order)  # trailing padding only
        h = self.states(segment_emb, spectral, pad_mask)  # (B, T, d_model)
        steps = prefix_positions(valid_len, self.cfg.n_prefix)  # (B, n_prefix)
        picked = h.gather(1, steps[..., None].expand(-1, -1, h.shape[-1]))  # (B, n_prefix, d_model)
        return self.to_lm(picked) + self.slot_emb  # (B, n_prefix, d_lm)
