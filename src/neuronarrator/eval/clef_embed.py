"""Frozen CLEF embeddings of whole sessions: what the linear probes and zero-shot prompts read.

:class:`ClefEmbedder` loads an align-stage checkpoint (the session Transformer after alignment, its
tokenizer, the text model it was aligned with), tokenizes each session and returns both the session
embedding (CLS or mean pool, ``d_model``: the probes' features, as CLEF probes the encoder) and its
projection into the text space (``d_align``: for zero-shot). :meth:`ClefEmbedder.embed_pretrained` embeds
with the session model before alignment, for the ablation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class ClefEmbedder:
    def __init__(self, checkpoint, device: str | torch.device | None = None, text_model=None) -> None:
        from neuronarrator.models.tokenizer import pick_device
        from neuronarrator.train.align_stage import load_clef

        self.device = torch.device(device) if device is not None else pick_device()
        self.checkpoint = checkpoint
        self.model, self.tokenizer, self.text_model = load_clef(checkpoint, self.device)
        if text_model is not None:
            self.text_model = text_model
        self._text_encoder = None
        self._pretrained = None

    def tokens(self, sessions: Sequence) -> list:
        """The sessions' tokens; a session longer than the model's time tiles raises ValueError."""
        from neuronarrator.models.session_tokens import tokenize_session

        tokens = [tokenize_session(self.tokenizer, s) for s in sessions]
        config = self.model.session.config
        for s, t in zip(sessions, tokens, strict=True):
            n_tt = int(t.tile_index[:, 1].max()) + 1
            if n_tt > config.max_time_tiles:
                raise ValueError(f"{s.session_id}: {s.duration_s:.0f} s is longer than the model's "
                                 f"{config.max_time_tiles} time tiles")  # fmt: skip
        return tokens

    def _pooled(self, model, tokens: list, batch_size: int, pool: str | None = None):
        """Yield (row indices, (b, d_model) embeddings) over the sessions with at least one valid token."""
        from neuronarrator.train.session_stage import tokens_batch

        ok = [i for i, t in enumerate(tokens) if t.n_valid > 0]
        for b in range(0, len(ok), batch_size):
            pick = ok[b : b + batch_size]
            batch = {k: v.to(self.device) for k, v in tokens_batch([tokens[i] for i in pick], model.config).items()}
            yield pick, model.session_embedding(batch, pool=pool or self.model.config.pool).float()

    @torch.no_grad()
    def embed(self, sessions: Sequence, batch_size: int = 16, tokens: list | None = None
              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(session embeddings (n, d_model), text-space projections (n, d_align)), float32.

        A session with no valid token (every derivation misses an electrode) gets NaN rows: it cannot be
        embedded, and the probes refuse NaN rather than scoring a made-up vector."""
        tokens = self.tokens(sessions) if tokens is None else tokens
        emb = np.full((len(tokens), self.model.session.config.d_model), np.nan, np.float32)
        text = np.full((len(tokens), self.model.config.d_align), np.nan, np.float32)
        for pick, e in self._pooled(self.model.session, tokens, batch_size):
            emb[pick] = e.cpu().numpy()
            text[pick] = torch.nn.functional.normalize(self.model.session_text(e).float(), dim=-1).cpu().numpy()
        return emb, text

    @torch.no_grad()
    def embed_pretrained(self, tokens: list, batch_size: int = 16) -> np.ndarray:
        """(n, d_model) embeddings by the session model *before* alignment (the session-stage checkpoint
        the aligner started from, same pooling): the ablation that shows what alignment adds."""
        from neuronarrator.train.loop import load_checkpoint
        from neuronarrator.train.session_stage import load_session_model

        if self._pretrained is None:
            path = load_checkpoint(self.checkpoint)["config"]["session_checkpoint"]
            self._pretrained = load_session_model(path, self.device)[0]
        emb = np.full((len(tokens), self._pretrained.config.d_model), np.nan, np.float32)
        for pick, e in self._pooled(self._pretrained, tokens, batch_size):
            emb[pick] = e.cpu().numpy()
        return emb

    @torch.no_grad()
    def embed_prompts(self, prompts: dict[str, list[str]]) -> dict[str, np.ndarray]:
        """Prompts per key → their projections into the aligned text space, (n_prompts, d_align) each."""
        from neuronarrator.models.text import TextEncoder

        if self._text_encoder is None:
            self._text_encoder = TextEncoder(self.text_model, device="cpu")
        out = {}
        for key, texts in prompts.items():
            raw = torch.from_numpy(self._text_encoder.encode(texts)).to(self.device)
            out[key] = self.model.embed_text(raw).cpu().numpy()
        return out
