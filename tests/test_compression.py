"""Compressed inputs (.gz, .bz2, .xz, .zst) read exactly as their plain files, with the same one-line errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import zstandard
from conftest import TINY_ROWS, write_tsv

from textrnn import CharLMData, TextClassificationData
from textrnn.errors import UserError
from textrnn.text.compression import OPENERS, split_suffix
from textrnn.text.sources import read_file
from textrnn.vectors.readers import read_vectors

COMPRESSIONS = list(OPENERS)


def compress(path, compression: str):
    """``path`` compressed beside itself as ``path + compression``."""
    out = path.with_name(path.name + compression)
    data = path.read_bytes()
    if compression == ".zst":
        out.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        with OPENERS[compression](out, "wb") as f:
            f.write(data)
    return out


def test_split_suffix():
    assert split_suffix("a/train.tsv.gz") == (".tsv", ".gz")
    assert split_suffix("train.TSV") == (".tsv", None)
    assert split_suffix("corpus.txt.zst") == (".txt", ".zst")


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_tables_read_as_their_plain_file(tmp_path, compression):
    plain = write_tsv(tmp_path / "train.tsv", TINY_ROWS)
    table, packed = (
        read_file(str(plain), ["sentence"]),
        read_file(str(compress(plain, compression)), ["sentence"]),
    )
    assert packed["sentence"] == table["sentence"] and packed["label"] == table["label"]


def test_a_data_module_trains_on_compressed_files(tmp_path):
    plain = write_tsv(tmp_path / "train.tsv", TINY_ROWS * 4)
    datasets = {}
    for name, path in (("plain", plain), ("xz", compress(plain, ".xz"))):
        data = TextClassificationData(train=str(path), val_fraction=0.25, text_column="sentence")
        data.setup("fit")
        datasets[name] = data
    assert datasets["xz"].vocab.itos == datasets["plain"].vocab.itos
    assert datasets["xz"].num_classes == datasets["plain"].num_classes == 2


@pytest.mark.parametrize("compression", [".gz", ".zst"])
def test_character_corpora_read_as_their_plain_file(tmp_path, compression):
    plain = tmp_path / "corpus.txt"
    plain.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20, encoding="utf-8")
    parts = []
    for path in (plain, compress(plain, compression)):
        data = CharLMData(files=[str(path)], val_fraction=0.1)
        data.setup("fit")
        parts.append({k: v.tolist() for k, v in data.parts.items()})
    assert parts[0] == parts[1]


def test_word_vectors_read_as_their_plain_file(tmp_path):
    plain = tmp_path / "vectors.txt"
    plain.write_text("the 0.1 0.2\nfilm 0.3 -0.4\ndull 1 2\n", encoding="utf-8")
    found = read_vectors(plain, "glove", {"film", "dull"})
    packed = read_vectors(compress(plain, ".bz2"), "glove", {"film", "dull"})
    assert packed.dim == found.dim == 2 and packed.rows.keys() == found.rows.keys() == {"film", "dull"}
    assert all(np.array_equal(packed.rows[w], found.rows[w]) for w in found.rows)


def test_a_bad_byte_inside_a_compressed_file_names_its_line(tmp_path):
    plain = tmp_path / "train.tsv"
    plain.write_bytes(b"sentence\tlabel\ngood\t1\nbad \xff byte\t0\n")
    with pytest.raises(UserError, match=r"train\.tsv\.gz line 3: not valid UTF-8"):
        read_file(str(compress(plain, ".gz")), ["sentence"])


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_truncated_or_corrupt_archive_is_one_line(tmp_path, compression):
    packed = compress(write_tsv(tmp_path / "train.tsv", TINY_ROWS * 20), compression)
    packed.write_bytes(packed.read_bytes()[: len(packed.read_bytes()) // 2])
    with pytest.raises(UserError, match=rf"train\.tsv\{compression}: not a valid \{compression} file"):
        read_file(str(packed), ["sentence"])
    packed.write_bytes(b"this is not compressed at all" * 10)
    with pytest.raises(UserError, match=rf"not a valid \{compression} file"):
        read_file(str(packed), ["sentence"])


def test_an_unknown_kind_lists_the_kinds_and_compressions(tmp_path):
    path = tmp_path / "train.rar"
    path.write_bytes(gzip.compress(b"x"))
    with pytest.raises(
        UserError, match=r"unknown file kind '\.rar' \(use \.tsv, .*compressed as \.gz, \.bz2, \.xz"
    ):
        read_file(str(path), ["sentence"])
