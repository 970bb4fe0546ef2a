"""NeuroNarrator's language model: a causal LM conditioned on prefix embeddings from the bridge.

The state-space bridge hands over ``n_prefix`` vectors per segment, shape (B, n_prefix, d_prefix). They
are projected to the LM's width and put in front of the token embeddings (``inputs_embeds``); the text
follows as ``<bos> tokens <eos>``; the loss counts the text tokens only.

Two ways to get the LM:

- :meth:`NarratorLM.from_config`: a GPT-2 trained from scratch by this project, with a BPE tokenizer
  trained on the corpus (:mod:`~neuronarrator.models.report_tokenizer`). ``LMConfig.tiny()`` is for
  tests, ``LMConfig.small()`` trains on 2 CPU cores.
- :meth:`NarratorLM.from_pretrained`: any local Hugging Face causal-LM folder, optionally wrapped with
  LoRA adapters (peft); only the adapters and the prefix projection then train.

Decoding goes through Hugging Face ``generate(inputs_embeds=...)``: in transformers 5.x it works for
decoder-only models given embeddings only (checked for GPT-2 and Llama), greedy and beam, with
``min_new_tokens``, ``max_new_tokens``, EOS and ``length_penalty``, and returns only the new tokens.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from neuronarrator.models.text import OFFLINE_ENV

for _key, _value in OFFLINE_ENV.items():  # before transformers is imported: no hub lookups
    os.environ.setdefault(_key, _value)

log = logging.getLogger(__name__)

#: Module names LoRA adapts, by the first one found in the model: attention input projections.
LORA_TARGETS = {
    "c_attn": ["c_attn"],  # GPT-2: one fused q/k/v Conv1D
    "q_proj": ["q_proj", "v_proj"],  # Llama, Mistral, Qwen, OPT, ...
    "query_key_value": ["query_key_value"],  # GPT-NeoX, Falcon, BLOOM
}
NARRATOR_FILE = "narrator.json"
PROJECTION_FILE = "projection.pt"


@dataclass
class LMConfig:
    """A GPT-2 trained from scratch; the vocabulary size comes from the tokenizer."""

    n_layer: int = 4  # Transformer blocks
    n_embd: int = 256  # hidden width (d_lm)
    n_head: int = 4  # attention heads; must divide n_embd
    n_positions: int = 512  # longest prefix + <bos> + report + <eos>, in positions
    dropout: float = 0.1  # residual, embedding and attention dropout
    d_prefix: int | None = None  # width of the bridge's prefix vectors; None: same as n_embd

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")

    @classmethod
    def tiny(cls, **overrides) -> LMConfig:
        """Tests: about 0.4 M parameters besides the embeddings; a step takes milliseconds."""
        return cls(
            **{"n_layer": 2, "n_embd": 128, "n_head": 4, "n_positions": 256, "dropout": 0.0, **overrides}
        )

    @classmethod
    def small(cls, **overrides) -> LMConfig:
        """5.4 M parameters at an 8k vocabulary (2 M of them embeddings). Measured on a busy 2-core CPU:
        ~1.3 training steps/s at batch 8 x 128 tokens, so ~3,000 steps (3 M tokens: several epochs of a
        few thousand narratives) in ~40 min."""
        return cls(**overrides)


@dataclass
class LoraSettings:
    """LoRA adapters on the attention input projections (peft)."""

    r: int = 8  # rank of the update
    alpha: int = 16  # scaling: the update is multiplied by alpha / r
    dropout: float = 0.05  # dropout on the adapter input
    target_modules: list[str] | None = None  # None: found from the architecture (LORA_TARGETS)


def lora_targets(model: nn.Module) -> list[str]:
    """The module names LoRA should adapt in ``model`` (see :data:`LORA_TARGETS`)."""
    leaf_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    for key, targets in LORA_TARGETS.items():
        if key in leaf_names:
            return targets
    raise ValueError(
        f"no known attention projection ({', '.join(LORA_TARGETS)}) in {type(model).__name__}: pass "
        "LoraSettings(target_modules=[...]) with the names of its attention linear layers"
    )


def _wrap_lora(model: nn.Module, lora: LoraSettings) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    targets = lora.target_modules or lora_targets(model)
    config = LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
        fan_in_fan_out=targets == ["c_attn"],  # GPT-2's Conv1D stores its weight transposed
        task_type="CAUSAL_LM",
    )  # fmt: skip
    model = get_peft_model(model, config)
    trainable, total = model.get_nb_trainable_parameters()
    log.info(
        "LoRA on %s: %d of %d parameters train (%.2f%%)", targets, trainable, total, 100 * trainable / total
    )
    return model


def _special_ids(tokenizer) -> tuple[int, int, int]:
    """(bos, eos, pad) ids; a tokenizer without BOS or PAD (GPT-2's) uses its EOS for both."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token: reports could never end; set tokenizer.eos_token")
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return bos, eos, pad


class NarratorLM(nn.Module):
    """A causal LM (plain or LoRA-wrapped) with a prefix projection and its tokenizer.

    Parameters
    ----------
    lm : transformers causal LM (or a peft model around one)
    tokenizer : transformers tokenizer
    d_prefix : int
        Width of the prefix vectors; a linear projection maps them to the LM's hidden size when it differs.
    """

    def __init__(self, lm: nn.Module, tokenizer, d_prefix: int) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.d_prefix = d_prefix
        self.bos_id, self.eos_id, self.pad_id = _special_ids(tokenizer)
        d_lm = lm.config.hidden_size
        self.projection = nn.Linear(d_prefix, d_lm) if d_prefix != d_lm else nn.Identity()

    # --- construction ------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: LMConfig, tokenizer) -> NarratorLM:
        """A new GPT-2 sized by ``config``, its vocabulary that of ``tokenizer`` (a transformers one)."""
        from transformers import GPT2Config, GPT2LMHeadModel

        bos, eos, pad = _special_ids(tokenizer)
        gpt2 = GPT2Config(
            vocab_size=len(tokenizer), n_positions=config.n_positions, n_embd=config.n_embd,
            n_layer=config.n_layer, n_head=config.n_head, resid_pdrop=config.dropout,
            embd_pdrop=config.dropout, attn_pdrop=config.dropout, bos_token_id=bos, eos_token_id=eos,
            pad_token_id=pad,
        )  # fmt: skip
        return cls(GPT2LMHeadModel(gpt2), tokenizer, config.d_prefix or config.n_embd)

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        *,
        lora: LoraSettings | None = None,
        d_prefix: int | None = None,
        tokenizer=None,
    ) -> NarratorLM:
        """Load a local causal-LM folder (never the network), or a folder written by :meth:`save`.

        Parameters
        ----------
        folder : path
            A Hugging Face causal-LM folder (``config.json`` + weights), with its tokenizer files unless
            ``tokenizer`` is given; or a NarratorLM folder (``narrator.json``, ``lm/``, ``tokenizer/``).
        lora : LoraSettings or None
            Wrap the LM with LoRA adapters: the base weights freeze, the adapters and the projection train.
        d_prefix : int or None
            Width of the prefix vectors; None: the LM's hidden size (ignored for a NarratorLM folder).
        """
        from transformers import AutoModelForCausalLM

        from neuronarrator.models.report_tokenizer import load_report_tokenizer

        folder = Path(folder)
        saved = folder / NARRATOR_FILE
        meta = json.loads(saved.read_text()) if saved.is_file() else None
        lm_dir = folder / "lm" if meta else folder
        if not (lm_dir / "config.json").is_file():
            raise FileNotFoundError(f"{lm_dir} has no config.json: not a Hugging Face causal-LM folder")
        lm = AutoModelForCausalLM.from_pretrained(str(lm_dir), local_files_only=True)
        tokenizer = tokenizer or load_report_tokenizer(folder / "tokenizer" if meta else folder)
        if lora is not None:
            lm = _wrap_lora(lm, lora)
        model = cls(lm, tokenizer, meta["d_prefix"] if meta else d_prefix or lm.config.hidden_size)
        if meta and meta["has_projection"]:
            model.projection.load_state_dict(torch.load(folder / PROJECTION_FILE, weights_only=True))
        return model

    def save(self, folder: str | Path) -> Path:
        """Write ``lm/`` (a plain HF folder: LoRA adapters merged in), ``tokenizer/``, the projection and
        ``narrator.json``; atomically: a temporary folder renamed into place."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            lm = self.lm
            if hasattr(lm, "merge_and_unload"):  # a peft model: ship the merged weights, keep ours training
                lm = copy.deepcopy(lm).merge_and_unload()
            lm.save_pretrained(tmp / "lm")
            self.tokenizer.save_pretrained(tmp / "tokenizer")
            has_projection = isinstance(self.projection, nn.Linear)
            if has_projection:
                torch.save(self.projection.state_dict(), tmp / PROJECTION_FILE)
            meta = {"d_prefix": self.d_prefix, "has_projection": has_projection, "format": 1}
            (tmp / NARRATOR_FILE).write_text(json.dumps(meta, indent=2))
            if folder.exists():
                shutil.rmtree(folder)
            tmp.rename(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    # --- text <-> ids ------------------------------------------------------------------------------

    def encode(self, texts: list[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``<bos> text <eos>``, right-padded: (input_ids (B, L), attention_mask (B, L)).

        ``max_length`` cuts the text (the EOS is then lost: the model learns the report goes on).
        """
        rows = []
        for text in texts:
            ids = [self.bos_id, *self.tokenizer(text, add_special_tokens=False)["input_ids"], self.eos_id]
            rows.append(ids[:max_length] if max_length else ids)
        length = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention_mask[i, : len(row)] = 1
        return input_ids, attention_mask

    def decode(self, ids: list[int]) -> str:
        """Text of generated ids, cut at the first EOS."""
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # --- training ----------------------------------------------------------------------------------

    def _embed(self, prefix: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        if prefix.ndim != 3 or prefix.shape[-1] != self.d_prefix:
            raise ValueError(f"prefix must be (B, n_prefix, {self.d_prefix}), got {tuple(prefix.shape)}")
        tokens = self.lm.get_input_embeddings()(input_ids)  # (B, L, d_lm)
        prefix = self.projection(prefix.to(tokens.dtype))  # (B, P, d_lm)
        return torch.cat([prefix, tokens], dim=1)  # (B, P + L, d_lm)

    def _check_length(self, n_positions: int) -> None:
        limit = getattr(self.lm.config, "n_positions", None) or getattr(
            self.lm.config, "max_position_embeddings", None
        )
        if limit and n_positions > limit:
            raise ValueError(
                f"prefix + text need {n_positions} positions, the LM has {limit}: shorten the text "
                "(encode(max_length=...)) or max_new_tokens, or use a config with larger n_positions"
            )

    def logits(
        self, prefix: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Next-token logits at the text positions: (B, L, vocab); row t predicts ``input_ids[:, t + 1]``."""
        embeds = self._embed(prefix, input_ids)
        self._check_length(embeds.shape[1])
        n_prefix = prefix.shape[1]
        mask = torch.cat([attention_mask.new_ones(prefix.shape[:2]), attention_mask], dim=1)  # (B, P + L)
        return self.lm(inputs_embeds=embeds, attention_mask=mask).logits[:, n_prefix:]

    def forward(
        self, prefix: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean cross-entropy over the text tokens after ``<bos>`` (the EOS included).

        Parameters
        ----------
        prefix : tensor, shape (B, n_prefix, d_prefix)
        input_ids, attention_mask : tensor, shape (B, L)
            From :meth:`encode`: ``<bos> text <eos>`` then padding (mask 0).
        """
        logits = self.logits(prefix, input_ids, attention_mask)  # (B, L, V)
        targets = input_ids[:, 1:].masked_fill(attention_mask[:, 1:] == 0, -100)  # (B, L - 1)
        return nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100
        )

    @torch.no_grad()
    def log_prob(self, prefix: torch.Tensor, sequences: list[list[int]]) -> torch.Tensor:
        """Summed log-probability (B,) of each generated id sequence (as :meth:`generate_ids` returns)."""
        rows = [[self.bos_id, *seq] for seq in sequences]
        length = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long, device=prefix.device)
        mask = torch.zeros_like(input_ids)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        was_training = self.training
        self.eval()
        logp = self.logits(prefix, input_ids, mask)[:, :-1].float().log_softmax(-1)  # (B, L - 1, V)
        self.train(was_training)
        picked = logp.gather(-1, input_ids[:, 1:, None])[..., 0]  # (B, L - 1)
        return (picked * mask[:, 1:]).sum(-1)

    # --- decoding ----------------------------------------------------------------------------------

    @torch.no_grad()
    def generate_ids(
        self,
        prefix: torch.Tensor,
        max_new_tokens: int = 128,
        min_new_tokens: int = 0,
        num_beams: int = 1,
        length_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
        repetition_penalty: float = 1.0,
    ) -> list[list[int]]:
        """Generated token ids per prefix, up to and including the EOS when one was produced.

        Greedy when ``num_beams == 1``, else beam search; a beam's score is its summed log-probability
        divided by ``length ** length_penalty`` (> 0 favours longer reports, < 0 shorter). The EOS is
        forbidden before ``min_new_tokens``; decoding stops at ``max_new_tokens``.
        """
        bos = torch.full((prefix.shape[0], 1), self.bos_id, dtype=torch.long, device=prefix.device)
        embeds = self._embed(prefix, bos)  # (B, P + 1, d_lm)
        self._check_length(embeds.shape[1] + max_new_tokens)
        was_training = self.training
        self.eval()
        out = self.lm.generate(
            inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device),
            max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, num_beams=num_beams,
            do_sample=False, **({"length_penalty": length_penalty, "early_stopping": True} if num_beams > 1 else {}),
            no_repeat_ngram_size=no_repeat_ngram_size, repetition_penalty=repetition_penalty,
            eos_token_id=self.eos_id, pad_token_id=self.pad_id, bos_token_id=self.bos_id,
        )  # fmt: skip
        self.train(was_training)
        sequences = []
        for row in out.tolist():  # only the new tokens: generate() was given embeddings, no ids
            sequences.append(row[: row.index(self.eos_id) + 1] if self.eos_id in row else row)
        return sequences

    def generate(
        self, prefix: torch.Tensor, max_new_tokens: int = 128, min_new_tokens: int = 0, **kwargs
    ) -> list[str]:
        """One report per prefix (B, n_prefix, d_prefix); keywords as :meth:`generate_ids`."""
        ids = self.generate_ids(prefix, max_new_tokens, min_new_tokens, **kwargs)
        return [self.decode(seq) for seq in ids]
