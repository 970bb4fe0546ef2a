"""CLEF's stage-2 model: the session Transformer aligned with report text and with the EHR (DESIGN.md).

Three encoders meet in one ``d_align``-dimensional space (CLEF: 512), each pair through its own
projection heads, as CLEF has separate heads per modality pair:

* the session Transformer's embedding (CLS by default) → ``session_text`` and ``session_ehr`` heads;
* the report, summarised to its electrographic content (the labeler's findings as a canonical summary)
  and embedded by the frozen MiniLM (384-d) → the ``text`` head;
* the EHR (age, sex, ICD-10, ATC with their hierarchies) → :class:`EHREncoder`, whose last layer is the
  EHR head.

The loss is a weighted sum of two symmetric InfoNCE terms (session↔text over the sessions that have a
report, session↔EHR over those with any EHR field), each with its own temperature (learnt from 0.07 by
default, as CLIP). Sessions with the same summary (every plain normal EEG, say) or the same EHR key are
positives of each other rather than negatives (``groups`` of :func:`symmetric_info_nce`). For identical
text embeddings this gives the plain InfoNCE's value anyway (the duplicate columns cannot be told apart);
it matters where a group's members differ, as EHRs whose ages round to the same key do. The text encoder itself is never trained: its embeddings are computed once, outside.
Zero-shot classification compares ``session_text`` projections with projected prompt embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuronarrator import distributed
from neuronarrator.models.ehr import EHREncoder, EHREncoderConfig, EHRVocab
from neuronarrator.models.losses import INITIAL_TEMPERATURE, LearnableTemperature, symmetric_info_nce
from neuronarrator.models.session import SessionTransformer, autocast_context


@dataclass
class AlignConfig:
    d_align: int = 512  # width of the shared space (CLEF: 512)
    d_text: int = 384  # width of the frozen text embeddings (MiniLM-L6: 384)
    temperature: float = INITIAL_TEMPERATURE  # τ at the start (CLEF: 0.07)
    learn_temperature: bool = True  # learn τ as CLIP does, or keep it fixed
    text_weight: float = 1.0  # weight of the session↔text InfoNCE
    ehr_weight: float = 1.0  # weight of the session↔EHR InfoNCE
    pool: str = "cls"  # session embedding: "cls" or "mean" over valid tokens
    ehr_hidden: int = 256  # hidden width of the EHR encoder's MLP

    def __post_init__(self) -> None:
        if self.pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {self.pool!r}")
        if self.text_weight < 0 or self.ehr_weight < 0 or self.text_weight + self.ehr_weight == 0:
            raise ValueError("text_weight and ehr_weight must be >= 0 and not both 0")


class _Temperature(nn.Module):
    """A fixed τ with the same call signature as :class:`LearnableTemperature`."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(float(value)))

    def forward(self) -> torch.Tensor:
        return self.value


def _projection(d_in: int, d_out: int) -> nn.Module:
    # CLIP's heads are linear; a LayerNorm first puts the pooled Transformer output and the frozen text
    # embedding on a common scale.
    return nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, d_out))


class ClefAligner(nn.Module):
    def __init__(self, session: SessionTransformer, ehr_vocab: EHRVocab, config: AlignConfig) -> None:
        super().__init__()
        self.config = config
        self.session = session
        d_model = session.config.d_model
        self.session_text = _projection(d_model, config.d_align)
        self.session_ehr = _projection(d_model, config.d_align)
        self.text = _projection(config.d_text, config.d_align)
        self.ehr = EHREncoder(ehr_vocab, EHREncoderConfig(d_model=config.d_align, d_hidden=config.ehr_hidden))
        make = LearnableTemperature if config.learn_temperature else _Temperature
        self.tau_text = make(config.temperature)
        self.tau_ehr = make(config.temperature)

    def session_embedding(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, d_model) session embedding of a :func:`session_batch`: what linear probes read."""
        return self.session.session_embedding(tokens, pool=self.config.pool)

    def text_space(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, d_align) L2-normalised session projections into the text space (for zero-shot)."""
        return F.normalize(self.session_text(self.session_embedding(tokens)).float(), dim=-1)

    def embed_text(self, text_embeddings: torch.Tensor) -> torch.Tensor:
        """(n, d_text) frozen text embeddings → (n, d_align) L2-normalised."""
        return F.normalize(self.text(text_embeddings).float(), dim=-1)

    def losses(self, batch: dict) -> dict[str, torch.Tensor]:
        """``batch``: the session tokens (``codes``, ``derivation``, ``freq_row``, ``time_pos``,
        ``pad_mask``), ``text`` (B, d_text) float, ``has_text`` (B,) bool, ``text_group`` (B,) long (equal
        for equal summaries), ``ehr`` (list of B dicts), ``has_ehr`` (B,) bool, ``ehr_group`` (B,) long. Returns ``text``, ``ehr`` (0 when fewer than 2 rows have the modality) and
        ``total``."""
        keys = ("codes", "derivation", "freq_row", "time_pos", "pad_mask")
        with autocast_context(batch["codes"].device):
            emb = self.session_embedding({k: batch[k] for k in keys})  # (B, d_model)
        emb = emb.float()
        zero = emb.sum() * 0.0  # keeps the graph when a term is absent
        out = {"text": zero, "ehr": zero}
        has_text, has_ehr = batch["has_text"], batch["has_ehr"]
        # Data-parallel (distributed.gathering): the pairs of every rank, gathered by every rank alike.
        if distributed.gathering() or int(has_text.sum()) >= 2:
            s, t, g = (distributed.gather_rows(x) for x in (
                self.session_text(emb[has_text]), self.text(batch["text"][has_text]), batch["text_group"][has_text]))
            if s.shape[0] >= 2:
                out["text"] = symmetric_info_nce(s, t, self.tau_text(), g)
            else:  # every parameter stays on the graph (DistributedDataParallel expects all of them)
                out["text"] = (s.sum() + t.sum() + self.tau_text()) * 0.0
        if distributed.gathering() or int(has_ehr.sum()) >= 2:
            rows = [e for e, keep in zip(batch["ehr"], has_ehr.tolist(), strict=True) if keep]
            s, e, g = (distributed.gather_rows(x) for x in (
                self.session_ehr(emb[has_ehr]), self.ehr(rows), batch["ehr_group"][has_ehr]))
            if s.shape[0] >= 2:
                out["ehr"] = symmetric_info_nce(s, e, self.tau_ehr(), g)
            else:
                out["ehr"] = (s.sum() + e.sum() + self.tau_ehr()) * 0.0
        out["total"] = self.config.text_weight * out["text"] + self.config.ehr_weight * out["ehr"]
        return out
