"""gensim's KeyedVectors files, read without running code a crafted file names (an allow-list unpickler)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from textrnn.errors import UserError
from textrnn.text.compression import OPENERS
from textrnn.vectors.rows import Found, check_dim


def read_keyedvectors(path: Path, wanted: set[str], dim: int | None) -> Found:
    """The ``wanted`` rows of a gensim KeyedVectors file (see :func:`load_keyedvectors`)."""
    kv = load_keyedvectors(path)
    check_dim(path.name, kv.vector_size, dim)
    return rows_from_keyedvectors(kv, wanted)


# What a file written by gensim's KeyedVectors/Word2Vec/FastText ``save`` may name. A pickle naming
# anything else (os.system, builtins.eval, subprocess.Popen, ...) is refused before it is built.
_PICKLE_GLOBALS = {
    ("gensim.models.keyedvectors", "KeyedVectors"),
    ("gensim.models.keyedvectors", "Vocab"),
    ("gensim.models.fasttext", "FastTextKeyedVectors"),
    ("gensim.models.fasttext", "FastText"),
    ("gensim.models.word2vec", "Word2Vec"),
    ("gensim.utils", "call_on_class_only"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._mt19937", "MT19937"),
    ("numpy.random.mtrand", "RandomState"),
    ("collections", "defaultdict"),
    ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"),
    *(
        ("builtins", name)
        for name in ("object", "int", "float", "str", "bytes", "list", "dict", "set", "tuple")
    ),
    ("builtins", "hash"),
}


class _GensimUnpickler(pickle.Unpickler):
    """Builds only the classes of :data:`_PICKLE_GLOBALS`; anything else is refused unbuilt."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise _UnsafePickle(f"{module}.{name}")
        return super().find_class(module, name)


class _UnsafePickle(Exception):
    pass


def load_keyedvectors(path: Path) -> Any:
    """A file written by gensim's ``KeyedVectors.save`` or ``Word2Vec.save`` (memory-mapped).

    These files are pickles, and gensim's own loader would run whatever code a crafted one names. This
    reader unpickles with an allow-list of the classes gensim writes (:data:`_PICKLE_GLOBALS`) and
    refuses a file that names anything else, or that asks for further pickled side files
    (``__scipys``), with a :class:`UserError`. Side ``.npy`` arrays are read with numpy's
    ``allow_pickle=False``.
    """
    from gensim.models import KeyedVectors  # imported here: gensim is slow to import
    from gensim.utils import SaveLoad

    if not path.is_file():
        raise FileNotFoundError(path)
    compress, subname = SaveLoad._adapt_by_suffix(str(path))  # gensim's rule: .gz and .bz2 are compressed
    opener = OPENERS.get(path.suffix, open)
    try:
        with opener(path, "rb") as f:
            obj: Any = _GensimUnpickler(f, encoding="latin1").load()
    except _UnsafePickle as err:
        raise UserError(
            f"{path.name}: refused, the pickle names {err}, which a gensim KeyedVectors file does not "
            "need (loading it could run code); if you trust the file, convert it with gensim: "
            "KeyedVectors.load(path).save_word2vec_format(out, binary=True)"
        ) from None
    except Exception as err:  # unpickling raises all kinds of errors on a foreign file
        raise UserError(f"{path.name}: not a gensim KeyedVectors file ({err})") from None
    if not isinstance(obj, SaveLoad):
        raise UserError(f"{path.name}: holds a {type(obj).__name__}, not KeyedVectors")
    _refuse_pickled_side_files(obj, path.name)
    try:
        obj._load_specials(str(path), None if compress else "r", compress, subname)
    except Exception as err:  # a missing or foreign side file
        raise UserError(f"{path.name}: cannot read its side arrays ({err})") from None
    kv = getattr(obj, "wv", obj)  # a saved Word2Vec/FastText model holds its vectors in .wv
    if not isinstance(kv, KeyedVectors):
        raise UserError(f"{path.name}: holds a {type(obj).__name__}, not KeyedVectors")
    return kv


def _refuse_pickled_side_files(obj: Any, name: str, depth: int = 0) -> None:
    """gensim unpickles ``__scipys`` side files with no checks: refuse files that ask for them."""
    if depth > 8 or obj is None:
        return
    if getattr(obj, "__scipys", []):
        raise UserError(f"{name}: refused, it stores sparse matrices in pickled side files")
    for attrib in getattr(obj, "__recursive_saveloads", []):
        _refuse_pickled_side_files(getattr(obj, attrib, None), name, depth + 1)


def rows_from_keyedvectors(kv: Any, wanted: set[str]) -> Found:
    """The rows of ``wanted`` words in a gensim ``KeyedVectors``."""
    index = kv.key_to_index
    rows = {w: np.array(kv.vectors[index[w]], dtype=np.float32) for w in wanted if w in index}
    return Found(kv.vector_size, rows)
