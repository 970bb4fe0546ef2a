"""A byte-level BPE tokenizer trained on the corpus narratives, for NeuroNarrator's language model.

Byte-level BPE never meets an unknown character, and with no prefix space, no normaliser and no
clean-up of tokenization spaces, ``decode(encode(text)) == text`` holds exactly: clinical numbers and
derivations ("9.5 Hz", "F7-T3", "50 µV") come back as they were written. The trained
:class:`tokenizers.Tokenizer` is wrapped in a :class:`transformers.PreTrainedTokenizerFast` so a saved
folder loads with ``AutoTokenizer.from_pretrained(folder)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from neuronarrator.models.text import OFFLINE_ENV

for _key, _value in OFFLINE_ENV.items():  # before transformers is imported: no hub lookups
    os.environ.setdefault(_key, _value)

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
#: Ids 0, 1, 2, in this order, in every tokenizer trained here.
SPECIAL_TOKENS = (PAD, BOS, EOS)


def train_report_tokenizer(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE tokenizer on report texts.

    Parameters
    ----------
    texts : iterable of str
        The narratives (one report or sentence per item).
    vocab_size : int
        Largest vocabulary, the 256 byte symbols and the 3 special tokens included.
    min_frequency : int
        A pair is merged only when it occurs at least this often.

    Returns
    -------
    tokenizer : tokenizers.Tokenizer
        With ``<pad>``, ``<bos>``, ``<eos>`` as ids 0, 1, 2. It adds no special tokens by itself.
    """
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size={vocab_size} cannot hold the 256 bytes and 3 special tokens; use >= 259"
        )
    tokenizer = Tokenizer(models.BPE())
    # add_prefix_space=False: a leading space would be invented on encode and kept on decode.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def as_transformers(tokenizer: Tokenizer):
    """Wrap a trained tokenizer as a ``PreTrainedTokenizerFast`` (what ``save_pretrained`` needs)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, bos_token=BOS, eos_token=EOS,
        clean_up_tokenization_spaces=False,  # True would turn "Hz ." into "Hz." on decode
    )  # fmt: skip


def save_report_tokenizer(tokenizer: Tokenizer, folder: str | Path) -> Path:
    """Write ``tokenizer.json`` and its config to ``folder``; it then loads with ``AutoTokenizer``."""
    folder = Path(folder)
    as_transformers(tokenizer).save_pretrained(folder)
    return folder


def load_report_tokenizer(folder: str | Path):
    """Load a tokenizer folder (this module's, or any local Hugging Face one) without the network."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
