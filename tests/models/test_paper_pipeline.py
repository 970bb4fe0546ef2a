"""The paper-sized CLEF configs: 20 minutes of EEG cut into exactly the tiles and valid tokens of 2,048
codes, and a forward pass of the aligned model with paper-sized heads (untrained weights: shapes and
finiteness, not quality). That one tile encodes to 8 × 16 = 128 codes is tested in test_tokenizer.py and
the 2,048-token session forward in test_session.py; encoding all 16 paper tiles here would cost ~20 s of
CPU for nothing new."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronarrator.eval.signals import SessionSignal
from neuronarrator.models.clef import AlignConfig, ClefAligner
from neuronarrator.models.ehr import EHRVocab
from neuronarrator.models.session import SessionConfig, SessionTransformer
from neuronarrator.models.session_tokens import SessionTokens, signal_tiles, token_valid
from neuronarrator.models.tokenizer import TokenizerConfig
from neuronarrator.signal.synthetic import pink_noise_uv
from neuronarrator.train.session_stage import tokens_batch

pytestmark = pytest.mark.slow


def test_twenty_minutes_give_exactly_2048_valid_tokens():
    config = TokenizerConfig.paper()
    data_uv = pink_noise_uv(0, 19, 1200 * 200, 200.0).astype(np.float32)  # 20 minutes at 200 Hz
    tiles = signal_tiles(SessionSignal(data_uv, np.ones(19, bool), "referential", "twenty-minutes"), config)
    assert tiles.tiles.shape == (16, 1, 128, 128)  # 16 lateral derivations × one 20-minute tile
    assert tiles.column_mask.all() and tiles.tile_ok.all()
    valid = token_valid(tiles.column_mask, tiles.tile_ok, config)
    assert valid.shape == (16, 128) and int(valid.sum()) == 2048


def test_paper_aligner_forward():
    torch.manual_seed(0)
    session = SessionTransformer(SessionConfig.paper())
    # 4 of the 16 derivations of one 20-minute tile: 512 tokens per session keeps the attention cheap
    tile_index = torch.stack([torch.arange(4), torch.zeros(4, dtype=torch.long)], dim=1)
    paper_tokens = SessionTokens(
        torch.randint(0, 8192, (4, 128)), tile_index, torch.ones(4, 128, dtype=torch.bool)
    )
    ehrs = [{"age_years": 40.0, "sex": "male", "icd10": ["G40.909"], "atc": ["N03AX14"]},
            {"age_years": 71.0, "sex": "female", "icd10": [], "atc": []}]  # fmt: skip
    model = ClefAligner(
        session, EHRVocab.build([e["icd10"] for e in ehrs], [e["atc"] for e in ehrs]), AlignConfig()
    )
    batch = tokens_batch([paper_tokens, paper_tokens], session.config)
    assert batch["codes"].shape == (2, 512)
    batch.update(text=torch.randn(2, 384), has_text=torch.ones(2, dtype=torch.bool), text_group=torch.arange(2),
                 ehr=ehrs, has_ehr=torch.ones(2, dtype=torch.bool), ehr_group=torch.arange(2))  # fmt: skip
    model.eval()  # no dropout: both rows see the same tokens
    with torch.no_grad():
        losses = model.losses(batch)
        emb = model.session_embedding(
            {k: batch[k] for k in ("codes", "derivation", "freq_row", "time_pos", "pad_mask")}
        )
    assert emb.shape == (2, 512) and torch.allclose(emb[0], emb[1], atol=1e-5)
    assert all(torch.isfinite(v) for v in losses.values()) and losses["total"] > 0
