"""Non-neural baselines of the narrator benchmark: retrieval, findings classifier + renderer, text prior.

All three take session features as a numpy array ``(n, d)`` (band power of
:mod:`neuronarrator.eval.bandpower`, or any embedder's output), so the same baseline runs on any
representation. Each ``predict`` returns one narrative per row.

:class:`RetrievalBaseline`
    Nearest neighbour: features standardised with the training mean and standard deviation, rows
    L2-normalised, the training session of highest cosine similarity wins (ties: the first) and its
    narrative is returned verbatim.
:class:`ClassifierRendererBaseline`
    One class-balanced logistic regression per finding code (present / absent in the training findings);
    for a lateralized code a second one, fitted on the training sessions that have the code, picks its
    side; a multinomial one the dominant state; a ridge regression the PDR frequency (the schema requires
    it). The predicted :class:`~neuronarrator.clinical.findings.Findings` (one finding per code, the
    classifier's probability as its probability, impression derived) is written out by
    :func:`~neuronarrator.clinical.render.render_report` with a fixed seed, so the same features give the
    same text. A code present in every or no training session is predicted constantly.
:class:`TextPriorBaseline`
    The most typical training narrative, returned for every session: the medoid of the training texts,
    by default in MiniLM sentence-embedding space (the text whose summed cosine similarity to all training
    texts is highest; O(n)), or by ROUGE-L F (``method="rouge_l"``: highest mean ROUGE-L against all other
    texts; O(n²) pairs, for small sets). It measures what the metrics give a text that ignores the EEG.

Limits: the classifier predicts at most one finding per code (a bilateral independent pattern written as
two lateralized findings becomes one), no regions and no evidence; the retrieval and prior baselines copy
text, so their faithfulness to the true findings is exactly how often the retrieved report happens to fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from neuronarrator.clinical.findings import (
    CODES,
    FREQUENCY_RANGE_HZ,
    FREQUENCY_REQUIRED,
    LATERALIZED_CODES,
    Finding,
    Findings,
)
from neuronarrator.clinical.render import render_report

#: Floor of a feature's standard deviation in the standardisation (a constant column stays 0).
STD_FLOOR = 1e-8


def _as_features(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (n, d), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or inf")
    return x


class _Standardiser:
    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(axis=0)
        self.std = np.maximum(x.std(axis=0), STD_FLOOR)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.mean.size:
            raise ValueError(
                f"features have {x.shape[1]} columns, the baseline was fitted on {self.mean.size}"
            )
        return (x - self.mean) / self.std


# --- retrieval ------------------------------------------------------------------------------------------
class RetrievalBaseline:
    """Nearest-neighbour retrieval of a training narrative (cosine on standardised features)."""

    def fit(self, train_features: np.ndarray, train_texts: Sequence[str]) -> RetrievalBaseline:
        x = _as_features(train_features)
        texts = list(train_texts)
        if len(texts) != len(x) or not texts:
            raise ValueError(f"{len(x)} feature rows for {len(texts)} texts (need at least one pair)")
        self._scale = _Standardiser(x)
        self._bank = self._unit(self._scale(x))
        self.texts = texts
        return self

    @staticmethod
    def _unit(z: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        return z / np.where(norm > 0, norm, 1.0)

    def neighbours(self, features: np.ndarray) -> np.ndarray:
        """Index of the retrieved training session per row, shape (n,)."""
        z = self._unit(self._scale(_as_features(features)))
        return np.argmax(z @ self._bank.T, axis=1)

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.texts[i] for i in self.neighbours(features)]


# --- findings classifier + renderer --------------------------------------------------------------------
class _Constant:
    """A 'classifier' for a target with one class in training."""

    def __init__(self, label) -> None:
        self.label = label

    def proba(self, z: np.ndarray) -> np.ndarray:
        return np.full(len(z), 1.0 if self.label else 0.0)

    def predict(self, z: np.ndarray) -> np.ndarray:
        return np.array([self.label] * len(z), dtype=object)


def _logreg(z: np.ndarray, y: np.ndarray, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    if classes.size < 2:
        return _Constant(classes[0])
    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed).fit(z, y)


class ClassifierRendererBaseline:
    """Per-code balanced logistic regressions → predicted findings → rendered narrative.

    Parameters
    ----------
    c : inverse L2 strength of every logistic regression (on standardised features).
    threshold : probability at which a code is predicted present.
    seed : seed of the renderer's phrasing choices (each session is rendered with this seed).
    """

    def __init__(self, c: float = 1.0, threshold: float = 0.5, seed: int = 0) -> None:
        self.c, self.threshold, self.seed = c, threshold, seed

    def fit(
        self, train_features: np.ndarray, train_findings: Sequence[Findings]
    ) -> ClassifierRendererBaseline:
        from sklearn.linear_model import Ridge

        x = _as_features(train_features)
        docs = list(train_findings)
        if len(docs) != len(x) or not docs:
            raise ValueError(f"{len(x)} feature rows for {len(docs)} findings documents")
        self._scale = _Standardiser(x)
        z = self._scale(x)
        self.present = {}
        self.side = {}
        for code in CODES:
            has = np.array([code in d.codes for d in docs])
            self.present[code] = _logreg(z, has, self.c, self.seed)
            if code in LATERALIZED_CODES and has.any():
                sides = np.array([d.get(code).side for d in docs if code in d.codes], dtype=object)
                self.side[code] = _logreg(z[has], sides, self.c, self.seed)
        self.state = _logreg(z, np.array([d.state for d in docs], dtype=object), self.c, self.seed)
        self.frequency = {}
        for code in FREQUENCY_REQUIRED:
            rows = [(i, d.get(code).frequency_hz) for i, d in enumerate(docs) if code in d.codes]
            if rows:
                idx, hz = map(np.array, zip(*rows, strict=True))
                self.frequency[code] = Ridge(alpha=1.0).fit(z[idx], hz.astype(float))
        return self

    @staticmethod
    def _proba(model, z: np.ndarray) -> np.ndarray:
        if isinstance(model, _Constant):
            return model.proba(z)
        return model.predict_proba(z)[:, list(model.classes_).index(True)]

    def predict_findings(self, features: np.ndarray) -> list[Findings]:
        """Predicted findings per row (one finding per code at most; impression derived)."""
        z = self._scale(_as_features(features))
        n = len(z)
        probs = {code: self._proba(m, z) for code, m in self.present.items()}
        sides = {code: m.predict(z) for code, m in self.side.items()}
        states = self.state.predict(z)
        hz = {code: m.predict(z) for code, m in self.frequency.items()}
        out = []
        for i in range(n):
            found = []
            for code, p in probs.items():
                if p[i] < self.threshold:
                    continue
                freq = None
                if code in FREQUENCY_REQUIRED:
                    if code not in hz:
                        continue
                    low, high = FREQUENCY_RANGE_HZ[code]
                    freq = float(np.clip(hz[code][i], low, high))
                side = str(sides[code][i]) if code in LATERALIZED_CODES else None
                found.append(Finding(code, probability=float(p[i]), side=side, frequency_hz=freq))
            if "pdr_reactive" in {f.code for f in found} and "pdr" not in {f.code for f in found}:
                found = [f for f in found if f.code != "pdr_reactive"]  # the schema needs a PDR first
            out.append(Findings(findings=tuple(found), state=str(states[i])))
        return out

    def predict(self, features: np.ndarray) -> list[str]:
        return [render_report(doc, rng=self.seed).text for doc in self.predict_findings(features)]


# --- text-only prior ------------------------------------------------------------------------------------
class TextPriorBaseline:
    """The medoid training narrative, returned for every session.

    Parameters
    ----------
    method : ``"minilm"`` (default; sentence embeddings of :class:`~neuronarrator.models.text.TextEncoder`)
        or ``"rouge_l"`` (mean ROUGE-L F against the other texts; quadratic in the number of texts).
    embed : optional callable texts → (n, k) array used instead of MiniLM when ``method="minilm"``
        (rows are L2-normalised here).
    """

    def __init__(
        self, method: str = "minilm", embed: Callable[[list[str]], np.ndarray] | None = None
    ) -> None:
        if method not in ("minilm", "rouge_l"):
            raise ValueError(f"method must be 'minilm' or 'rouge_l', got {method!r}")
        self.method, self.embed = method, embed

    def fit(self, train_texts: Sequence[str]) -> TextPriorBaseline:
        texts = list(train_texts)
        if not texts:
            raise ValueError("no training texts")
        if self.method == "rouge_l":
            from neuronarrator.eval.text_metrics import rouge_l

            n = len(texts)
            sim = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1, n):
                    sim[i, j] = sim[j, i] = rouge_l([texts[i]], [texts[j]])["per_item"][0]
            score = sim.sum(axis=1)
        else:
            if self.embed is None:
                from neuronarrator.models.text import TextEncoder

                e = TextEncoder().encode(texts)
            else:
                e = np.asarray(self.embed(texts), dtype=np.float64)
            e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
            score = e @ e.sum(axis=0)
        self.index = int(np.argmax(score))
        self.text = texts[self.index]
        return self

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.text] * len(np.asarray(features))
