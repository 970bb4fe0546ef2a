"""InfoNCE with groups of identical pairs, and ClefAligner's losses on a tiny session Transformer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from neuronarrator.models.clef import AlignConfig, ClefAligner
from neuronarrator.models.ehr import EHRVocab
from neuronarrator.models.losses import symmetric_info_nce
from neuronarrator.models.session import SessionConfig, SessionTransformer, session_batch

D_TEXT = 24


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_distinct_groups_equal_plain_info_nce():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    plain = symmetric_info_nce(a, b, 0.1)
    grouped = symmetric_info_nce(a, b, 0.1, torch.tensor([5, 3, 0, 1, 2, 4]))
    assert grouped.item() == pytest.approx(plain.item(), rel=1e-6)


def test_group_members_are_not_negatives():
    # rows 0 and 1 are one group (two EHRs that round to the same key, say) with nearby but different
    # embeddings; each session lies on the other member's embedding
    g = torch.Generator().manual_seed(1)
    b = torch.randn(4, 8, generator=g)
    b[1] = b[0] + 0.5 * torch.randn(8, generator=g)
    a = b[[1, 0, 2, 3]]
    groups = torch.tensor([0, 0, 1, 2])
    plain = symmetric_info_nce(a, b, 0.05)
    grouped = symmetric_info_nce(a, b, 0.05, groups)
    assert grouped < plain
    # plain InfoNCE asks each session to move onto its own row instead
    assert symmetric_info_nce(b, b, 0.05) < plain


def test_exact_duplicate_texts_give_the_plain_loss():
    # two sessions with the same summary have the very same text embedding: the false-negative push of
    # b_1 on a_0 cancels its own pull, so groups change neither the value nor the gradient; the floor
    # is the entropy of the target, log 2 on 2 of 4 rows in both directions
    g = torch.Generator().manual_seed(2)
    b = torch.randn(4, 8, generator=g)
    b[1] = b[0]
    a = (b + 0.1 * torch.randn(4, 8, generator=g)).requires_grad_()
    groups = torch.tensor([0, 0, 1, 2])
    plain, grouped = symmetric_info_nce(a, b, 0.05), symmetric_info_nce(a, b, 0.05, groups)
    assert grouped.item() == pytest.approx(plain.item(), rel=1e-5)
    (grad_plain,) = torch.autograd.grad(plain, a)
    (grad_grouped,) = torch.autograd.grad(grouped, a)
    assert torch.allclose(grad_plain, grad_grouped, atol=1e-5)
    assert symmetric_info_nce(b, b, 0.05, groups).item() == pytest.approx(math.log(2) / 2, abs=1e-3)


def test_grouped_loss_hand_computation():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    b = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    groups = torch.tensor([7, 7, 9])
    logits = a @ b.T / 0.5
    target = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    row = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    col = -(target * torch.log_softmax(logits.T, 1)).sum(1).mean()
    assert symmetric_info_nce(a, b, 0.5, groups).item() == pytest.approx(((row + col) / 2).item(), rel=1e-6)


def _tile_index(n_time_tiles: int) -> torch.Tensor:
    return torch.stack([torch.arange(16).repeat(n_time_tiles),
                        torch.arange(n_time_tiles).repeat_interleave(16)], dim=1)  # fmt: skip


def _aligner(seed: int = 0, **align) -> ClefAligner:
    torch.manual_seed(seed)
    session = SessionTransformer(SessionConfig.tiny())
    vocab = EHRVocab.build([["G40.909"], ["G40.309", "R56.9"], []], [["N03AX14"], [], ["N03AG01"]])
    return ClefAligner(session, vocab, AlignConfig(d_align=16, d_text=D_TEXT, ehr_hidden=16, **align))


def _batch(n: int, has_text=None, has_ehr=None, seed: int = 0) -> dict:
    c = SessionConfig.tiny()
    g = torch.Generator().manual_seed(seed)
    per_tile = c.codes_freq * c.codes_time
    n_tt = [1 + i % 2 for i in range(n)]
    codes = [torch.randint(0, c.vocab_size, (16 * k, per_tile), generator=g) for k in n_tt]
    batch = session_batch(codes, [_tile_index(k) for k in n_tt], c)
    ehrs = [{"age_years": 20.0 + 7 * i, "sex": ("male", "female", None)[i % 3],
             "icd10": [["G40.909"], ["R56.9"], []][i % 3], "atc": [["N03AX14"], []][i % 2]} for i in range(n)]  # fmt: skip
    return {**batch, "text": torch.randn(n, D_TEXT, generator=g),
            "has_text": torch.ones(n, dtype=torch.bool) if has_text is None else torch.tensor(has_text),
            "text_group": torch.arange(n), "ehr": ehrs,
            "has_ehr": torch.ones(n, dtype=torch.bool) if has_ehr is None else torch.tensor(has_ehr),
            "ehr_group": torch.arange(n)}  # fmt: skip


def test_losses_finite_and_backward():
    model = _aligner().train()
    out = model.losses(_batch(4))
    assert set(out) == {"text", "ehr", "total"}
    for value in out.values():
        assert value.ndim == 0 and torch.isfinite(value)
    assert out["text"] > 0 and out["ehr"] > 0
    assert out["total"].item() == pytest.approx((out["text"] + out["ehr"]).item(), rel=1e-6)
    out["total"].backward()
    for name in ("session_text", "session_ehr", "text", "ehr", "tau_text", "tau_ehr"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert grads and all(gr is not None and torch.isfinite(gr).all() for gr in grads), name
    session_grads = [p.grad for p in model.session.parameters() if p.grad is not None]
    assert session_grads and any(gr.abs().sum() > 0 for gr in session_grads)


def test_term_with_fewer_than_two_rows_is_zero_but_keeps_the_graph():
    model = _aligner().train()
    out = model.losses(_batch(3, has_text=[True, False, False], has_ehr=[True, True, False]))
    assert out["text"].item() == 0.0 and out["ehr"] > 0
    assert out["text"].requires_grad
    out["total"].backward()
    assert all(p.grad is None or not p.grad.abs().sum() for p in model.text.parameters())
    assert model.tau_ehr.log_scale.grad is not None

    # neither modality: the total is a zero that still backpropagates (no "does not require grad" error)
    model.zero_grad()
    out = model.losses(_batch(2, has_text=[False, False], has_ehr=[False, True]))
    assert out["total"].item() == 0.0 and out["total"].requires_grad
    out["total"].backward()


def test_weights_scale_the_terms():
    batch = _batch(4)
    ref = _aligner(seed=2).losses(batch)
    only_text = _aligner(seed=2, ehr_weight=0.0, text_weight=2.0).losses(batch)
    assert only_text["total"].item() == pytest.approx(2 * ref["text"].item(), rel=1e-5)
    with pytest.raises(ValueError, match="not both 0"):
        AlignConfig(text_weight=0.0, ehr_weight=0.0)
    with pytest.raises(ValueError, match="pool"):
        AlignConfig(pool="max")


def test_fixed_and_learnable_temperature():
    learnt = _aligner(temperature=0.1)
    assert learnt.tau_text().item() == pytest.approx(0.1, rel=1e-6)
    names = {n for n, _ in learnt.named_parameters()}
    assert {"tau_text.log_scale", "tau_ehr.log_scale"} <= names

    fixed = _aligner(temperature=0.2, learn_temperature=False)
    assert fixed.tau_text().item() == pytest.approx(0.2, rel=1e-6)
    assert not any(n.startswith("tau_") for n, _ in fixed.named_parameters())
    assert "tau_text.value" in fixed.state_dict()  # a buffer: saved, never trained
    fixed.losses(_batch(4))["total"].backward()
    assert fixed.tau_text().item() == pytest.approx(0.2, rel=1e-6)


def test_text_space_and_embed_text_are_unit_vectors():
    model = _aligner(pool="mean").eval()
    batch = _batch(3)
    keys = ("codes", "derivation", "freq_row", "time_pos", "pad_mask")
    with torch.no_grad():
        s = model.text_space({k: batch[k] for k in keys})
        t = model.embed_text(batch["text"])
    assert s.shape == (3, 16) == t.shape
    assert torch.allclose(s.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(t.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(F.normalize(model.session_text(model.session_embedding(
        {k: batch[k] for k in keys})).float(), dim=-1), s, atol=1e-5)  # fmt: skip
