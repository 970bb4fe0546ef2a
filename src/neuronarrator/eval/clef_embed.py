"""Frozen CLEF embeddings of whole sessions: what the linear probes and zero-shot prompts read.

:class:`ClefEmbedder` loads an align-stage checkpoint (the session Transformer after alignment, its
tokenizer, the text model it was aligned with), tokenizes each session and returns both the session
embedding (CLS or mean pool, ``d_model``: the probes' features, as CLEF probes the encoder) and its
projection into the text space (``d_align``: for zero-shot).
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
        self.model, self.tokenizer, self.text_model = load_clef(checkpoint, self.device)
        if text_model is not None:
            self.text_model = text_model
        self._text_encoder = None

    @torch.no_grad()
    def embed(self, sessions: Sequence, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(session embeddings (n, d_model), text-space projections (n, d_align)), float32.

        A session with no valid token (every derivation misses an electrode) gets NaN rows: it cannot be
        embedded, and the probes refuse NaN rather than scoring a made-up vector."""
        from neuronarrator.models.session_tokens import tokenize_session
        from neuronarrator.train.session_stage import tokens_batch

        tokens = [tokenize_session(self.tokenizer, s) for s in sessions]
        config = self.model.session.config
        for s, t in zip(sessions, tokens, strict=True):
            n_tt = int(t.tile_index[:, 1].max()) + 1
            if n_tt > config.max_time_tiles:
                raise ValueError(f"{s.session_id}: {s.duration_s:.0f} s is longer than the model's "
                                 f"{config.max_time_tiles} time tiles")  # fmt: skip
        d_model, d_align = config.d_model, self.model.config.d_align
        emb = np.full((len(tokens), d_model), np.nan, np.float32)
        text = np.full((len(tokens), d_align), np.nan, np.float32)
        ok = [i for i, t in enumerate(tokens) if t.n_valid > 0]
        for b in range(0, len(ok), batch_size):
            pick = ok[b : b + batch_size]
            batch = {k: v.to(self.device) for k, v in tokens_batch([tokens[i] for i in pick], config).items()}
            e = self.model.session_embedding(batch).float()
            emb[pick] = e.cpu().numpy()
            text[pick] = (
                torch.nn.functional.normalize(self.model.session_text(e).float(), dim=-1).cpu().numpy()
            )
        return emb, text

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
