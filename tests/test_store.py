"""The character token store: the same ids as tokenising in memory, built in chunks, cached, mapped."""

from __future__ import annotations

import gzip
from collections import Counter

import pytest
import torch

from textrnn.errors import UserError
from textrnn.text import store
from textrnn.text.store import char_store
from textrnn.text.vocab import Vocab

TEXT = "First Citizen:\nBefore we proceed, hear me speak. Ça va? Ωμέγα — “quoted” ✓\n" * 40


def in_memory(text: str, val: float, test: float, vocab: Vocab | None = None) -> tuple[Vocab, dict]:
    """What the store must equal: the whole text split, counted and encoded in memory."""
    n = len(text)
    n_test, n_val = int(n * test), int(n * val)
    bounds = {"train": (0, n - n_val - n_test), "validation": (n - n_val - n_test, n - n_test)}
    if n_test:
        bounds["test"] = (n - n_test, n)
    vocab = vocab or Vocab.build(Counter(text[: bounds["train"][1]]))
    return vocab, {part: vocab.encode(text[a:b]) for part, (a, b) in bounds.items()}


@pytest.mark.parametrize("chunk", [7, 64, 1 << 24])  # tiny chunks cut multi-byte characters in two
def test_the_store_equals_tokenising_in_memory(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(store, "CHUNK_BYTES", chunk)
    first, second = tmp_path / "a.txt", tmp_path / "b.txt.gz"
    first.write_text(TEXT[:1000], encoding="utf-8")
    second.write_bytes(gzip.compress(TEXT[1000:].encode("utf-8")))
    built = char_store([str(first), str(second)], 0.1, 0.05)
    vocab, parts = in_memory(TEXT, 0.1, 0.05)
    assert built.vocab == vocab.itos and built.dtype == "uint8"
    assert {part: built.ids(part).tolist() for part in built.parts} == parts


def test_a_given_vocabulary_and_a_wide_alphabet(tmp_path):
    text = "".join(chr(0x4E00 + i) for i in range(300)) * 3  # 300 characters: ids need 16 bits
    path = tmp_path / "wide.txt"
    path.write_text(text, encoding="utf-8")
    built = char_store([str(path)], 0.2, 0.0)
    assert built.dtype == "uint16" and built.ids("train").dtype == torch.uint16
    assert built.ids("validation").long().tolist() == in_memory(text, 0.2, 0.0)[1]["validation"]
    given = Vocab(["<pad>", "<unk>", chr(0x4E00)])
    assert char_store([str(path)], 0.2, 0.0, given).ids("train")[:4].tolist() == [2, 1, 1, 1]


def test_a_second_run_maps_the_cache_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    first = char_store([str(path)], 0.1, 0.0)
    reads = []
    monkeypatch.setattr(store, "chunks", lambda paths: reads.append(paths) or iter(()))
    again = char_store([str(path)], 0.1, 0.0)
    assert again == first and reads == []  # the file was not opened
    monkeypatch.undo()
    path.write_text(TEXT + "more", encoding="utf-8")
    changed = char_store([str(path)], 0.1, 0.0)
    assert changed.folder != first.folder and changed.parts["validation"][1] == len(TEXT) + 4


def test_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nalso fine\nbroken \xff here\n")
    with pytest.raises(UserError, match=r"bad\.txt line 3: not valid UTF-8"):
        char_store([str(bad)], 0.1, 0.0)
    with pytest.raises(UserError, match=r"nothing\.txt: no such file"):
        char_store([str(tmp_path / "nothing.txt")], 0.1, 0.0)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(UserError, match="the text is empty"):
        char_store([str(empty)], 0.1, 0.0)
    assert not list(store.cache_root().glob(".*tmp*"))  # nothing half-written is left behind


def labelled(path, **settings):
    from textrnn import Embeddings, TextClassificationData

    vectors = path.parent / "vectors.txt"
    if not vectors.is_file():  # written once: a changed vectors file is a new store
        vectors.write_text("wonderful 0.5 0.1\nfilm 0.2 0.3\ndull -0.4 0.9\n", encoding="utf-8")
    embeddings = Embeddings(source=str(vectors), format="glove")
    data = TextClassificationData(train=str(path), val_fraction=0.25, embeddings=embeddings, **settings)
    data.setup("fit")
    return data


def test_labelled_data_is_prepared_once_then_mapped(tmp_path, monkeypatch):
    from conftest import TINY_ROWS, write_tsv

    from textrnn.training import text_data

    path = write_tsv(tmp_path / "train.tsv", TINY_ROWS * 3)
    first = labelled(path, text_column="sentence")
    monkeypatch.setattr(text_data, "read_file", lambda *a, **k: pytest.fail("the store was not used"))
    again = labelled(path, text_column="sentence")
    assert again.vocab.itos == first.vocab.itos and again.label_names == first.label_names
    assert again.splits["train"].ids.dtype == torch.uint8  # the smallest type the vocabulary allows
    assert again.trainable_rows == first.trainable_rows
    assert torch.equal(again.embedding_matrix, first.embedding_matrix)
    for split in ("train", "validation"):
        a, b = first.splits[split].arrays(), again.splits[split].arrays()
        assert torch.equal(a["ids"], b["ids"].long())
        assert all(torch.equal(a[k], b[k]) for k in ("offsets", "labels"))
        assert [first.splits[split][i][1].tolist() for i in range(3)] == [
            again.splits[split][i][1].tolist() for i in range(3)
        ]
    monkeypatch.undo()
    assert len(labelled(path, text_column="sentence", min_freq=4).vocab) < len(first.vocab)  # other settings
    write_tsv(path, [("an entirely new sentence", 1), ("and another", 0)] * 3)
    assert "entirely" in labelled(path, text_column="sentence").vocab.stoi  # a changed file is read again


def test_a_damaged_labelled_store_is_rebuilt(tmp_path, caplog):
    from conftest import TINY_ROWS, write_tsv

    from textrnn.training import text_store

    path = write_tsv(tmp_path / "train.tsv", TINY_ROWS * 3)
    first = labelled(path, text_column="sentence")
    text_store.store_path(first).write_bytes(b"not a store")
    again = labelled(path, text_column="sentence")
    assert "token store" in caplog.text and again.vocab.itos == first.vocab.itos


def test_processes_building_one_store_take_turns(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    builds, build = [], store._build
    monkeypatch.setattr(store, "_build", lambda *args: builds.append(1) or build(*args))
    with ThreadPoolExecutor(4) as pool:  # a lock file held through flock also parts threads
        stores = list(pool.map(lambda _: char_store([str(path)], 0.1, 0.0), range(4)))
    assert builds == [1] and all(s == stores[0] for s in stores)
