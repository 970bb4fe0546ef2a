"""EHRVocab and EHREncoder."""

from __future__ import annotations

import pytest
import torch

from neuronarrator.models.ehr import EHREncoder, EHREncoderConfig, EHRVocab, code_levels

EHRS = [
    {"age_years": 54.0, "sex": "female", "icd10": ["G40.909", "I10"], "atc": ["N03AX14", "C09AA05"]},
    {"age_years": 7.5, "sex": "male", "icd10": ["G40.A09"], "atc": ["N03AG01"]},
    {"age_years": None, "sex": None, "icd10": [], "atc": []},
]


def _encoder(d_model: int = 32) -> EHREncoder:
    torch.manual_seed(0)
    vocab = EHRVocab.build([e["icd10"] for e in EHRS], [e["atc"] for e in EHRS])
    return EHREncoder(vocab, EHREncoderConfig(d_model=d_model, d_code=8, d_hidden=16, dropout=0.0)).eval()


def test_code_levels() -> None:
    assert code_levels("icd10", "g40.919") == ["0:G", "1:G40", "2:G40919"]
    assert code_levels("atc", "N03AX14") == ["0:N", "1:N03", "2:N03A", "3:N03AX", "4:N03AX14"]
    assert code_levels("atc", "N03") == ["0:N", "1:N03"]


def test_shapes_and_missing_fields() -> None:
    encoder = _encoder(d_model=32)
    out = encoder.encode_batch(EHRS + [{}, {"sex": "other", "icd10": None}])
    assert out.shape == (5, 32) and torch.isfinite(out).all()
    # Missing age is not the same as age 0: the flag tells them apart.
    with torch.no_grad():
        missing, zero = encoder.encode_batch([{"age_years": None}, {"age_years": 0.0}])
    assert not torch.allclose(missing, zero)


def test_unseen_code_falls_back_to_its_parents() -> None:
    encoder = _encoder()
    vocab = encoder.vocab
    unk_leaf, g, g40 = (vocab.tokens["icd10"].index(t) for t in ("2:<unk>", "0:G", "1:G40"))
    assert vocab.indices("icd10", "G40.919") == [g, g40, unk_leaf]  # G40.919 never seen, G40 was
    bag = encoder.icd10.weight
    with torch.no_grad():
        pooled = encoder.icd10(torch.tensor([vocab.indices("icd10", "G40.919")]))
    assert torch.allclose(pooled[0], (bag[g] + bag[g40] + bag[unk_leaf]) / 3)
    with torch.no_grad():
        sibling, other_chapter = encoder.encode_batch([{"icd10": ["G40.919"]}, {"icd10": ["F32.9"]}])
        same = encoder.encode_batch([{"icd10": ["G40.111"]}])[0]
    # two unseen G40 leaves: same parents, same embedding (up to float32 rounding, which differs between a
    # batch of two and a batch of one on some CPUs)
    assert torch.allclose(sibling, same, atol=1e-6), float((sibling - same).abs().max())
    assert not torch.allclose(sibling, other_chapter)
    # An ATC substance never seen keeps its seen chemical group.
    assert vocab.indices("atc", "N03AX09")[:4] == vocab.indices("atc", "N03AX14")[:4]


def test_deterministic_and_vocab_round_trip() -> None:
    a, b = _encoder(), _encoder()
    with torch.no_grad():
        assert torch.equal(a.encode_batch(EHRS), b.encode_batch(EHRS))
        assert torch.equal(a.encode_batch(EHRS), a.encode_batch(EHRS))
    assert EHRVocab.from_dict(a.vocab.to_dict()).tokens == a.vocab.tokens


def test_gradients_reach_code_embeddings() -> None:
    encoder = _encoder()
    encoder.encode_batch(EHRS).sum().backward()
    assert encoder.icd10.weight.grad.abs().sum() > 0 and encoder.atc.weight.grad.abs().sum() > 0


def test_min_count_and_bad_config() -> None:
    vocab = EHRVocab.build([["G40.909"], ["G40.1"]], [[]], min_count=2)
    assert "1:G40" in vocab.tokens["icd10"] and "2:G40909" not in vocab.tokens["icd10"]
    with pytest.raises(ValueError, match="positive widths"):
        EHREncoderConfig(d_model=0)
