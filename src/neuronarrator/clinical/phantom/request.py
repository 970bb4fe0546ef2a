"""What a caller asks the phantom for: finding specs, the state per 30-s epoch, and what may go together.

A spec is ``code[:side][:region[+region]][:frequency][:channel]``; a request is a comma-separated string of
specs, a list of specs / Finding / Spec objects, or a whole :class:`~neuronarrator.clinical.findings.Findings`
document (whose state timeline is used too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES, STATES, Finding, Findings
from neuronarrator.clinical.phantom.canvas import EPOCH_S, Spec
from neuronarrator.io.channels import CANONICAL_19

#: Findings that come with the state (painted by the state stage; a request fixes their parameters).
STATE_CODES: dict[str, tuple[str, ...]] = {
    "pdr": ("awake", "drowsy"),
    "pdr_reactive": ("awake",),
    "sleep_spindles": ("n2", "n3"),
    "k_complexes": ("n2",),
    "vertex_waves": ("n1", "n2"),
    "eye_blink_artifact": ("awake",),
}


def parse_spec(text: str) -> Spec:
    """One ``code[:side][:region[+region]][:frequency][:channel]`` spec (see :class:`Spec`)."""
    code, *tokens = [t.strip() for t in text.strip().split(":")]
    if code not in CODES:
        raise ValueError(f"unknown finding code {code!r}; known codes: {', '.join(CODES)}")
    side, regions, frequency, channels = None, (), None, ()
    for token in tokens:
        if token in SIDES:
            side = token
        elif token and all(r in REGIONS for r in token.split("+")):
            regions = tuple(token.split("+"))
        elif token in CANONICAL_19:
            channels = (token,)
        else:
            try:
                frequency = float(token)
            except ValueError:
                raise ValueError(
                    f"{text!r}: {token!r} is neither a side {SIDES}, regions {REGIONS} joined by '+', "
                    f"a frequency in Hz nor a 10-20 channel"
                ) from None
    return Spec(code, side, regions, frequency, channels)


def request_specs(request: Any) -> tuple[list[Spec], str | Sequence[str] | None]:
    """Specs and the state(s) a request carries."""
    if request is None:
        return [], None
    if isinstance(request, Findings):
        timeline = [s.state for s in request.state_timeline] or request.state
        return [
            Spec(f.code, f.side, f.regions, f.frequency_hz, f.channels) for f in request.findings
        ], timeline
    if isinstance(request, str):
        request = [part for part in request.split(",") if part.strip()]
    specs = []
    for item in request:
        if isinstance(item, Finding):
            specs.append(Spec(item.code, item.side, item.regions, item.frequency_hz, item.channels))
        elif isinstance(item, Spec):
            specs.append(item)
        else:
            specs.append(parse_spec(str(item)))
    return specs, None


def infer_state(codes: set[str]) -> str:
    if codes & {"sleep_spindles", "k_complexes"}:
        return "n2"
    if "vertex_waves" in codes:
        return "n1"
    return "awake"


def states_per_epoch(state: str | Sequence[str], duration_s: float) -> tuple[str, ...]:
    n_epochs = max(1, math.ceil(duration_s / EPOCH_S - 1e-9))
    states = (state,) * n_epochs if isinstance(state, str) else tuple(state)
    if len(states) != n_epochs:
        raise ValueError(f"{duration_s:g} s has {n_epochs} epochs of {EPOCH_S:g} s; got {len(states)} states")
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise ValueError(f"unknown states {unknown}; known: {STATES}")
    return states


def check_compatible(codes: set[str], epoch_states: tuple[str, ...]) -> None:
    for code, states in STATE_CODES.items():
        if code in codes and not set(states) & set(epoch_states):
            raise ValueError(
                f"{code} needs a state among {states}; the record is {sorted(set(epoch_states))}"
            )
    if "burst_suppression" in codes:
        if set(epoch_states) != {"awake"}:
            raise ValueError("burst_suppression is a coma pattern: it cannot be combined with sleep states")
        clash = codes & {
            "pdr",
            "pdr_reactive",
            "generalized_spike_wave",
            "seizure",
            "lpd",
            "gpd",
            "lrda",
            "grda",
        }
        if clash:
            raise ValueError(f"burst_suppression cannot be combined with {sorted(clash)}")
