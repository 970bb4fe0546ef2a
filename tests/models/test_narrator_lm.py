"""NeuroNarrator's language model: corpus tokenizer, prefix conditioning, decoding, LoRA, save/load.

Hermetic: the tokenizer is trained here on a few sentences, every LM is a tiny random config.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuronarrator.models.narrator_lm import LMConfig, LoraSettings, NarratorLM, lora_targets
from neuronarrator.models.report_tokenizer import (
    as_transformers,
    load_report_tokenizer,
    save_report_tokenizer,
    train_report_tokenizer,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPORTS = [
    "Posterior dominant rhythm of 9.5 Hz, reactive to eye opening.",
    "Sharp waves at F7-T3, 50 µV, 1-2/min, maximal left temporal.",
    "Intermittent focal slowing (3-4 Hz) over T7-P7; no electrographic seizures.",
    "Normal awake and drowsy EEG.  Photic stimulation at 1-30 Hz: no response.",
]
D_PREFIX = 16


@pytest.fixture(scope="module")
def tokenizer():
    return as_transformers(train_report_tokenizer(REPORTS * 3, vocab_size=400, min_frequency=1))


@pytest.fixture(scope="module")
def prefixes() -> torch.Tensor:
    """Two distinct bridge outputs, (2, n_prefix=4, D_PREFIX)."""
    return torch.randn(2, 4, D_PREFIX, generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def overfit(one_torch_thread, tokenizer, prefixes) -> NarratorLM:
    """A tiny GPT-2 that learned REPORTS[0] for prefix 0 and REPORTS[1] for prefix 1."""
    torch.manual_seed(0)
    model = NarratorLM.from_config(LMConfig.tiny(d_prefix=D_PREFIX), tokenizer)
    input_ids, mask = model.encode(REPORTS[:2])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = model(prefixes, input_ids, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.005:
            break
    return model.eval()


def _tiny_random(tokenizer, seed: int = 0) -> NarratorLM:
    torch.manual_seed(seed)
    return NarratorLM.from_config(LMConfig.tiny(d_prefix=D_PREFIX), tokenizer).eval()


def test_tokenizer_round_trips_clinical_text(tokenizer, tmp_path):
    folder = save_report_tokenizer(tokenizer.backend_tokenizer, tmp_path / "tok")
    loaded = load_report_tokenizer(folder)  # AutoTokenizer, offline
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (0, 1, 2)
    unseen = "PDR 10.25 Hz at O1-O2; θ 4-7 Hz at Fp1-F7 (ΔT = 3 s)\n\tspikes 150 µV, 2/min "
    for text in [*REPORTS, unseen]:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.decode(ids) == text
        assert loaded.decode([1, *ids, 2, 0, 0], skip_special_tokens=True) == text
    assert (
        len(loaded(REPORTS[0], add_special_tokens=False)["input_ids"]) < len(REPORTS[0]) / 2
    )  # merges learned


def test_loss_is_finite_and_counts_text_tokens_only(tokenizer, prefixes):
    model = _tiny_random(tokenizer)
    input_ids, mask = model.encode([REPORTS[0], "Normal EEG."])
    assert mask[1].sum() < mask.shape[1]  # the second row is padded
    loss = model(prefixes, input_ids, mask)
    assert torch.isfinite(loss)

    # Reference: cross-entropy over the text positions after <bos>, from the logits at the text positions.
    logits = model.logits(prefixes, input_ids, mask)  # (B, L, V)
    keep = mask[:, 1:].bool()
    expected = nn.functional.cross_entropy(logits[:, :-1][keep], input_ids[:, 1:][keep])
    torch.testing.assert_close(loss, expected)

    changed = input_ids.clone()
    changed[1, -1] = 7  # a padded position
    assert torch.equal(model(prefixes, changed, mask), loss)
    other_prefix = prefixes + 1.0
    assert not torch.equal(model(other_prefix, input_ids, mask), loss)  # the prefix conditions the text


def test_projection_only_when_widths_differ(tokenizer):
    assert isinstance(NarratorLM.from_config(LMConfig.tiny(), tokenizer).projection, nn.Identity)
    model = _tiny_random(tokenizer)
    assert model.projection.in_features == D_PREFIX and model.projection.out_features == 128
    with pytest.raises(ValueError, match="prefix must be"):
        model(torch.zeros(1, 4, 8), *model.encode(["x"]))


def test_overfit_prefixes_decode_their_own_sentence(overfit, prefixes):
    assert overfit.generate(prefixes, max_new_tokens=60) == REPORTS[:2]
    assert overfit.generate(prefixes, max_new_tokens=60, num_beams=3) == REPORTS[:2]
    assert overfit.generate(prefixes[1:], max_new_tokens=60) == REPORTS[1:2]  # batch of one


def test_min_and_max_new_tokens(overfit, prefixes):
    n_tokens = len(overfit.tokenizer(REPORTS[0], add_special_tokens=False)["input_ids"])
    (short,) = overfit.generate_ids(prefixes[:1], max_new_tokens=3)
    assert len(short) == 3 and overfit.eos_id not in short
    assert REPORTS[0].startswith(overfit.decode(short))
    for num_beams in (1, 3):
        (long,) = overfit.generate_ids(prefixes[:1], max_new_tokens=n_tokens + 8, min_new_tokens=n_tokens + 4,
                                       num_beams=num_beams)  # fmt: skip
        assert n_tokens + 4 <= len(long) <= n_tokens + 8
        assert overfit.eos_id not in long[: n_tokens + 3]  # the EOS is forbidden before the minimum
    (natural,) = overfit.generate_ids(prefixes[:1], max_new_tokens=60)
    assert natural[-1] == overfit.eos_id and len(natural) == n_tokens + 1


def test_beam_search_scores_at_least_greedy(tokenizer, prefixes):
    model = _tiny_random(tokenizer, seed=1)
    kwargs = {"max_new_tokens": 6, "min_new_tokens": 6}  # equal lengths: compare summed log-probs
    greedy = model.generate_ids(prefixes, **kwargs)
    beam = model.generate_ids(prefixes, num_beams=5, length_penalty=0.0, **kwargs)
    assert all(len(seq) == 6 for seq in greedy + beam)
    lp_greedy, lp_beam = model.log_prob(prefixes, greedy), model.log_prob(prefixes, beam)
    assert torch.all(lp_beam >= lp_greedy - 1e-4), (lp_beam, lp_greedy)
    assert torch.any(lp_beam > lp_greedy + 0.1)  # on a random model the beam finds better sequences


def test_save_load_round_trip(overfit, prefixes, tmp_path):
    folder = overfit.save(tmp_path / "narrator")
    loaded = NarratorLM.from_pretrained(folder).eval()
    input_ids, mask = overfit.encode(REPORTS[:2])
    with torch.no_grad():
        torch.testing.assert_close(loaded.logits(prefixes, input_ids, mask), overfit.logits(prefixes, input_ids, mask),
                                   rtol=0, atol=0)  # fmt: skip
    assert loaded.generate(prefixes, max_new_tokens=60) == REPORTS[:2]


def _save_random_base(kind: str, tokenizer, folder):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if kind == "gpt2":
        base = GPT2LMHeadModel(
            GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=32, n_head=2, n_positions=128)
        )
    else:
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        )  # fmt: skip
        base = LlamaForCausalLM(config)
    base.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("kind", "targets"), [("gpt2", ["c_attn"]), ("llama", ["q_proj", "v_proj"])])
def test_lora_trains_adapters_only_and_ships_merged(kind, targets, tokenizer, prefixes, tmp_path):
    folder = _save_random_base(kind, tokenizer, tmp_path / kind)
    model = NarratorLM.from_pretrained(folder, lora=LoraSettings(r=4, dropout=0.0), d_prefix=D_PREFIX)
    assert lora_targets(model.lm) == targets
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or name.startswith("projection.") for name in trainable)
    assert any(target in name for name in trainable for target in targets)

    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    input_ids, mask = model.encode(REPORTS[:2])
    model.train()
    model(prefixes, input_ids, mask).backward()
    optimizer.step()
    for name, p in model.named_parameters():
        if name in trainable and "lora_B" in name:  # lora_A gets no gradient while lora_B is still zero
            assert not torch.equal(p, before[name]), name
        elif name not in trainable:
            assert torch.equal(p, before[name]), name

    model.eval()
    assert len(model.generate(prefixes, max_new_tokens=4, num_beams=2)) == 2
    loaded = NarratorLM.from_pretrained(model.save(tmp_path / "shipped")).eval()
    assert all(p.requires_grad for p in loaded.parameters())  # a plain LM again, adapters merged
    with torch.no_grad():
        torch.testing.assert_close(loaded.logits(prefixes, input_ids, mask), model.logits(prefixes, input_ids, mask),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip
