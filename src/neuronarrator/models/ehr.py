"""Structured EHR → one vector: the EHR side of CLEF's contrastive alignment (DESIGN.md).

A session's EHR (:class:`~neuronarrator.corpus.sources.base.SessionData`'s ``ehr``) holds ``age_years``,
``sex``, ``icd10`` diagnoses and ``atc`` medications, any of which may be missing. Codes are hierarchical,
and rare leaf codes are the rule (``G40.919`` may appear once in a corpus), so each code is embedded as
the mean of its hierarchy levels: an ICD-10 code as chapter letter, 3-character category and full code;
an ATC code as its five levels. A level never seen when the vocabulary was built maps to that level's
``<unk>``, so an unseen leaf still carries its parents' embeddings (``G40.919`` unseen but ``G40`` seen →
the ``G`` and ``G40`` embeddings plus the leaf ``<unk>``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

#: Prefix lengths of each hierarchy level. ICD-10: chapter letter, category (G40), full code (dot removed).
#: ATC: anatomical (N), therapeutic (N03), pharmacological (N03A), chemical (N03AX), substance (N03AX14).
LEVEL_LENGTHS: dict[str, tuple[int | None, ...]] = {"icd10": (1, 3, None), "atc": (1, 3, 4, 5, 7)}
SEXES = ("male", "female")  # index 0 of the sex embedding is "unknown"
AGE_SCALE_YEARS = 100.0


def normalize_code(code: str) -> str:
    """Upper case, no dots or spaces: ``"g40.919 "`` → ``"G40919"`` (sources write ICD-10 both ways)."""
    return "".join(code.split()).replace(".", "").upper()


def code_levels(system: str, code: str) -> list[str]:
    """The hierarchy levels of a code, coarse to fine, as ``"<level>:<prefix>"`` tokens.

    A code shorter than a level stops there (ATC ``"N03"`` has levels 0 and 1 only); ICD-10's last level
    is the whole code, so a bare category ``"G40"`` has tokens ``0:G``, ``1:G40`` and ``2:G40``.
    """
    code = normalize_code(code)
    tokens: list[str] = []
    for level, length in enumerate(LEVEL_LENGTHS[system]):
        if length is not None and len(code) < length:
            break
        tokens.append(f"{level}:{code if length is None else code[:length]}")
    return tokens


def _unk(level: int) -> str:
    return f"{level}:<unk>"


@dataclass
class EHRVocab:
    """Token → index per code system, hierarchy levels included, with an ``<unk>`` per level.

    Attributes
    ----------
    tokens : dict of str to list of str
        Per system (``"icd10"``, ``"atc"``), the tokens in index order; the per-level ``<unk>`` come first.
    """

    tokens: dict[str, list[str]]

    def __post_init__(self) -> None:
        self._index = {system: {t: i for i, t in enumerate(toks)} for system, toks in self.tokens.items()}

    @classmethod
    def build(
        cls, icd10: Iterable[Sequence[str]], atc: Iterable[Sequence[str]], min_count: int = 1
    ) -> EHRVocab:
        """Build from data: per session lists of ICD-10 and of ATC codes.

        Parameters
        ----------
        icd10, atc : iterable of sequence of str
            One list of codes per session.
        min_count : int
            Level tokens seen in fewer sessions than this map to ``<unk>`` (privacy and overfitting guard).
        """
        tokens: dict[str, list[str]] = {}
        for system, lists in (("icd10", icd10), ("atc", atc)):
            counts: Counter[str] = Counter()
            for codes in lists:
                counts.update({t for code in codes for t in code_levels(system, code)})
            kept = sorted(t for t, n in counts.items() if n >= min_count)
            tokens[system] = [_unk(level) for level in range(len(LEVEL_LENGTHS[system]))] + kept
        log.info("EHR vocab: %d ICD-10 and %d ATC tokens", len(tokens["icd10"]), len(tokens["atc"]))
        return cls(tokens)

    def size(self, system: str) -> int:
        return len(self.tokens[system])

    def indices(self, system: str, code: str) -> list[int]:
        """Indices of a code's hierarchy levels; unseen levels map to their level's ``<unk>``."""
        index = self._index[system]
        return [index.get(t, index[_unk(int(t.split(":", 1)[0]))]) for t in code_levels(system, code)]

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": {s: list(t) for s, t in self.tokens.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EHRVocab:
        return cls({s: list(t) for s, t in data["tokens"].items()})


@dataclass
class EHREncoderConfig:
    d_model: int = 512  # output width: CLEF's shared alignment space is 512-d (DESIGN.md)
    d_code: int = 64  # width of each ICD-10 / ATC level embedding
    d_sex: int = 8  # width of the sex embedding (unknown, male, female)
    d_hidden: int = 256  # hidden width of the MLP that mixes the parts
    dropout: float = 0.1  # MLP dropout: EHR features are few and overfit fast

    def __post_init__(self) -> None:
        if min(self.d_model, self.d_code, self.d_sex, self.d_hidden) < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"EHREncoderConfig needs positive widths and 0 <= dropout < 1, got {self}")


class EHREncoder(nn.Module):
    """Age, sex, ICD-10 and ATC → a ``d_model`` vector.

    Parts, concatenated then mixed by an MLP: age (years / 100, and a missing flag), sex (embedding with
    index 0 for unknown), ICD-10 and ATC (each a mean-pooled bag of all hierarchy-level embeddings of all
    the session's codes; an empty list gives zeros), and log(1 + number of codes) per system so an empty
    list is distinguishable from an uninformative one.
    """

    def __init__(self, vocab: EHRVocab, config: EHREncoderConfig | None = None) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config = config or EHREncoderConfig()
        self.icd10 = nn.EmbeddingBag(vocab.size("icd10"), config.d_code, mode="mean")
        self.atc = nn.EmbeddingBag(vocab.size("atc"), config.d_code, mode="mean")
        self.sex = nn.Embedding(len(SEXES) + 1, config.d_sex)
        d_in = 2 + config.d_sex + 2 * config.d_code + 2  # age+flag, sex, two bags, two counts
        self.mlp = nn.Sequential(
            nn.Linear(d_in, config.d_hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.d_hidden, config.d_model),
        )

    def _bag(
        self, system: str, ehrs: Sequence[dict[str, Any]], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices and offsets for an EmbeddingBag, and the code counts, shape (B,)."""
        flat: list[int] = []
        offsets: list[int] = []
        counts: list[float] = []
        for ehr in ehrs:
            codes = ehr.get(system) or []
            offsets.append(len(flat))
            for code in codes:
                flat.extend(self.vocab.indices(system, code))
            counts.append(float(len(codes)))
        bag = getattr(self, system)(
            torch.tensor(flat, dtype=torch.long, device=device),
            torch.tensor(offsets, dtype=torch.long, device=device),
        )  # (B, d_code); empty bags are zeros
        return bag, torch.tensor(counts, device=device)

    def encode_batch(self, ehrs: Sequence[dict[str, Any]]) -> torch.Tensor:
        """Encode a batch of EHR dicts.

        Parameters
        ----------
        ehrs : sequence of dict, length B
            ``age_years`` (float or None), ``sex`` ("male", "female" or None), ``icd10`` and ``atc``
            (lists of codes); any key may be missing.

        Returns
        -------
        embeddings : Tensor, shape (B, d_model)
        """
        device = next(self.parameters()).device
        ages = [ehr.get("age_years") for ehr in ehrs]
        age_years = torch.tensor([0.0 if a is None else float(a) for a in ages], device=device)
        age_missing = torch.tensor([float(a is None) for a in ages], device=device)
        sex_index = torch.tensor(
            [SEXES.index(ehr["sex"]) + 1 if ehr.get("sex") in SEXES else 0 for ehr in ehrs], device=device
        )
        icd10, n_icd10 = self._bag("icd10", ehrs, device)
        atc, n_atc = self._bag("atc", ehrs, device)
        features = torch.cat(
            [
                (age_years / AGE_SCALE_YEARS)[:, None],
                age_missing[:, None],
                self.sex(sex_index),
                icd10,
                atc,
                torch.log1p(n_icd10)[:, None],
                torch.log1p(n_atc)[:, None],
            ],
            dim=1,
        )  # (B, d_in)
        return self.mlp(features)

    def forward(self, ehrs: Sequence[dict[str, Any]]) -> torch.Tensor:
        return self.encode_batch(ehrs)
