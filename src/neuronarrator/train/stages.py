"""Training stages: a config dict in, a trained checkpoint and a metrics dict out (``STAGES``).

CLEF trains in order: ``tokenizer`` (VQ-GAN on spectrogram tiles), ``session`` (masked-token pretraining
of the session Transformer on the tokenizer's codes), ``align`` (contrastive alignment of session
embeddings with report summaries and EHR). NeuroNarrator trains ``stage1`` (waveform and topomap
encoders aligned by InfoNCE, with finding heads) then ``narrator`` (state-space bridge and language model
on the session narratives). Each stage function is ``(config, *, resume) -> dict`` with at
least ``checkpoint``, ``step``, ``history`` (losses) and ``val`` (metrics on the val split).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _tokenizer(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.tokenizer_stage import train_tokenizer

    return train_tokenizer(config, resume=resume)


def _session(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.session_stage import train_session

    return train_session(config, resume=resume)


def _align(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.align_stage import train_align

    return train_align(config, resume=resume)


def _stage1(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.stage1_stage import train_stage1

    return train_stage1(config, resume=resume)


def _narrator(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    from neuronarrator.train.narrator_stage import train_narrator

    return train_narrator(config, resume=resume)


#: Stage name -> function ``(config, *, resume) -> metrics dict``, in training order.
STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "tokenizer": _tokenizer,  # CLEF
    "session": _session,
    "align": _align,
    "stage1": _stage1,  # NeuroNarrator
    "narrator": _narrator,
}
