"""Untrusted files: crafted checkpoints and gensim pickles run no code; bad vectors files fail in one line."""

from __future__ import annotations

import logging
import os
import pickle
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from textrnn import load_classifier, load_generator
from textrnn.errors import UserError
from textrnn.inference.loading import load_checkpoint
from textrnn.vectors.keyedvectors import load_keyedvectors
from textrnn.vectors.readers import MAX_LINE_BYTES, read_vectors

pytest_plugins = ["test_cli", "test_generate"]

TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")
REFUSED = "holds objects that are not plain data"


class Evil:
    """Unpickling this runs a shell command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture
def evil(tmp_path, trained):
    """Checkpoints that would create ``pwned`` when unpickled, and that marker's path."""
    marker = tmp_path / "pwned"
    command = f"touch {shlex.quote(str(marker))}"
    real = torch.load(trained[1], weights_only=True)
    files = {}
    # a real checkpoint with its state dict swapped for the payload: zip format, as torch.save writes
    files["state_dict"] = tmp_path / "evil.ckpt"
    torch.save({**real, "state_dict": Evil(command)}, files["state_dict"])
    # the payload hidden in the metadata entry that is read first
    files["meta"] = tmp_path / "evil_meta.ckpt"
    torch.save({**real, "textrnn": Evil(command)}, files["meta"])
    # torch's legacy (non-zip) format and a bare pickle
    files["legacy"] = tmp_path / "evil_legacy.ckpt"
    torch.save({**real, "state_dict": Evil(command)}, files["legacy"], _use_new_zipfile_serialization=False)
    files["bare"] = tmp_path / "evil_bare.ckpt"
    files["bare"].write_bytes(pickle.dumps({"textrnn": {}, "state_dict": Evil(command)}))
    return files, marker


def test_the_payload_is_live(evil):
    """The crafted file does run its command when loaded unsafely, so the refusals below mean something."""
    files, marker = evil
    torch.load(files["state_dict"], weights_only=False)
    assert marker.exists()


def test_checkpoint_loaders_refuse_without_running_code(evil):
    files, marker = evil
    for kind, path in files.items():
        for load in (load_checkpoint, load_classifier, load_generator):
            with pytest.raises(UserError) as err:
                load(path)
            message = str(err.value)
            assert "\n" not in message and str(path) in message
            if kind != "bare":  # torch may not even read a bare pickle as a checkpoint: refused either way
                assert REFUSED in message and "posix.system" in message, message
            assert "weights_only=False" not in message  # torch's advice to retry unsafely is not repeated
    assert not marker.exists()


def test_lightning_own_loading_is_weights_only_too(evil, monkeypatch):
    """``--ckpt_path last/best`` is resolved and read by Lightning itself (not by load_checkpoint): its
    local loads pass ``weights_only=None``, which torch >= 2.6 reads as True."""
    from lightning.fabric.utilities.cloud_io import _load

    files, marker = evil
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        _load(files["state_dict"], map_location="cpu")
    assert not marker.exists()


def test_commands_refuse_without_running_code(evil, trained, tmp_path):
    files, marker = evil
    path = str(files["state_dict"])
    texts = tmp_path / "texts.txt"
    texts.write_text("a wonderful film\n")
    commands = {
        "textrnn-classify": [
            sys.executable,
            "-m",
            "textrnn.inference.classify",
            "--checkpoint",
            path,
            "a film",
        ],
        "textrnn-generate": [sys.executable, "-m", "textrnn.inference.generate", "--checkpoint", path],
        "textrnn test": [
            sys.executable,
            "-c",
            "from textrnn.commands import main; main()",
            "test",
            "--config",
            TINY,
            f"--data.test={trained[2]['dev']}",
            f"--ckpt_path={path}",
        ],
        "textrnn predict": [
            sys.executable,
            "-c",
            "from textrnn.commands import main; main()",
            "predict",
            "--config",
            TINY,
            f"--data.predict={texts}",
            f"--ckpt_path={path}",
            f"--predictions={tmp_path / 'out.tsv'}",
        ],
    }
    for name, cmd in commands.items():
        result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode != 0, name
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert "error:" in last and REFUSED in last and path in last, (name, last)
    assert not marker.exists()
    assert not (tmp_path / "out.tsv").exists()


# -- gensim KeyedVectors files are pickles too -------------------------------------------------------


def test_keyedvectors_pickle_naming_other_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.kv"
    path.write_bytes(pickle.dumps(Evil(f"touch {shlex.quote(str(marker))}")))
    with pytest.raises(UserError, match=r"evil\.kv: refused, the pickle names posix\.system") as err:
        read_vectors(path, "auto", {"cat"})
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_keyedvectors_with_a_payload_inside_a_real_model_is_refused(tmp_path):
    from gensim.models import KeyedVectors

    marker = tmp_path / "pwned"
    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["cat", "dog"], np.ones((2, 4), dtype=np.float32))
    kv.payload = Evil(f"touch {shlex.quote(str(marker))}")
    path = tmp_path / "inside.kv"
    kv.save(str(path))
    with pytest.raises(UserError, match="refused, the pickle names posix.system"):
        load_keyedvectors(path)
    assert not marker.exists()


def test_keyedvectors_written_by_gensim_still_load(tmp_path):
    from gensim.models import FastText, KeyedVectors, Word2Vec

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["cat", "dog", "emu"], vectors)
    kv.save(str(tmp_path / "inline.kv"))
    kv.save(str(tmp_path / "side.kv"), sep_limit=0)  # the vectors in a side .npy file
    assert (tmp_path / "side.kv.vectors.npy").exists()
    kv.save(str(tmp_path / "packed.kv.gz"), sep_limit=0)  # compressed, side file too
    for name in ("inline.kv", "side.kv", "packed.kv.gz"):
        found = read_vectors(tmp_path / name, "auto", {"dog", "emu", "yak"})
        assert set(found.rows) == {"dog", "emu"}
        np.testing.assert_array_equal(found.rows["emu"], vectors[2])
    sentences = [["a", "b", "c"]] * 5
    Word2Vec(sentences, vector_size=4, min_count=1, workers=1).save(str(tmp_path / "w2v.model"))
    FastText(sentences, vector_size=4, min_count=1, bucket=50, workers=1).save(str(tmp_path / "ft.model"))
    for name in ("w2v.model", "ft.model"):
        assert load_keyedvectors(tmp_path / name).vector_size == 4


# -- hostile vectors files ----------------------------------------------------------------------------


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "content, fmt, message",
    [
        # truncated last line: no newline and too few numbers, even for a word nobody wants
        (b"cat 1 2 3\ndog 4 5 6\nemu 7 8", "glove", r"line 3 \(the last\): expected 4 fields"),
        (b"2 3\ncat 1 2 3\nemu 4 5", "word2vec", r"line 3 \(the last\): expected 4 fields"),
        (b"cat 1 2 3\ndog 4 5 6\nemu 7 8.", "glove", r"line 3 \(the last\): expected 4 fields"),
        # a wanted word with a wrong column count in the middle
        (b"cat 1 2 3\ndog 4 5\nemu 7 8 9\n", "glove", "line 2: expected 4 fields .word . 3 numbers., found 3"),
        (b"cat 1 2 3\ndog 4 5 6 7\nemu 7 8 9\n", "glove", "line 2: expected 4 fields"),
        # non-numeric, NaN, infinity, and a number float32 cannot hold
        (b"cat 1 2 3\ndog 4 x 6\n", "glove", "line 2: 'x' is not a number"),
        (b"cat 1 2 3\ndog 4 nan 6\n", "glove", "line 2: number 2 is 'nan', not a finite float32"),
        (b"cat 1 2 3\ndog 4 -inf 6\n", "glove", "line 2: number 2 is '-inf', not a finite float32"),
        (b"cat 1 2 3\ndog 4 5 1e39\n", "glove", "line 2: number 3 is '1e39', not a finite float32"),
        (b"2 3\ncat 1 2 3\ndog NaN 5 6\n", "word2vec", "line 3: number 1 is 'NaN'"),
        # a header that does not match the rows
        (b"3 3\ncat 1 2 3\ndog 4 5 6\n", "word2vec", "line 1: the header announces 3 vectors, found 2"),
    ],
)
def test_malformed_text_rows_name_their_line(tmp_path, content, fmt, message):
    path = write(tmp_path / "vectors.txt", content)
    with pytest.raises(UserError, match=message) as err:
        read_vectors(path, fmt, {"cat", "dog"})
    assert "\n" not in str(err.value) and str(err.value).startswith("vectors.txt line ")


def test_a_blank_last_line_without_a_line_break_is_fine(tmp_path):
    path = write(tmp_path / "v.txt", b"cat 1 2 3\ndog 4 5 6\n  ")
    assert set(read_vectors(path, "glove", {"cat", "dog"}).rows) == {"cat", "dog"}


def test_repeated_words_keep_the_first_vector_and_are_counted(tmp_path, caplog):
    path = write(tmp_path / "v.txt", b"cat 1 2 3\ndog 4 5 6\ncat 7 8 9\ncat 0 0 0\ndog 1 1 1\nemu 2 2 2\n")
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        found = read_vectors(path, "glove", {"cat", "dog"})
    np.testing.assert_array_equal(found.rows["cat"], [1, 2, 3])
    np.testing.assert_array_equal(found.rows["dog"], [4, 5, 6])
    assert "v.txt: 3 repeated words; the first vector of each was kept" in caplog.text


@pytest.mark.parametrize("where", ["word", "numbers", "first line"])
def test_a_huge_line_is_refused_with_bounded_memory(tmp_path, where):
    """50 MB without a line break (or a 10 MB word): an error naming the line, not 50 MB in memory."""
    import tracemalloc

    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        if where != "first line":
            f.write(b"cat 1 2 3\n")
        if where == "word":
            f.write(b"w" * (10 << 20) + b" 1 2 3\n")
        else:
            f.write(b"dog")
            for _ in range(50):
                f.write(b" 1.5" * (1 << 18))  # 1 MiB of numbers at a time
    lineno = 1 if where == "first line" else 2
    tracemalloc.start()
    try:
        with pytest.raises(UserError, match=f"huge.txt line {lineno}: longer than 1,048,576 bytes"):
            read_vectors(path, "glove", {"cat", "dog"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MAX_LINE_BYTES  # a few 1 MiB chunks, not the 10 or 50 MB line


def _w2v_binary(rows: list[tuple[str, list[float]]], dim: int, newline: bool = False) -> bytes:
    out = f"{len(rows)} {dim}\n".encode()
    for word, vec in rows:
        out += word.encode() + b" " + struct.pack(f"<{dim}f", *vec) + (b"\n" if newline else b"")
    return out


def test_binary_file_truncated_mid_vector(tmp_path):
    data = _w2v_binary([("cat", [1, 2, 3]), ("dog", [4, 5, 6])], 3)
    path = write(tmp_path / "v.bin", data[:-5])
    with pytest.raises(UserError, match=r"v\.bin record 2 of 2: the file ends early"):
        read_vectors(path, "auto", {"cat"})


def test_binary_nan_is_refused(tmp_path):
    path = write(tmp_path / "v.bin", _w2v_binary([("cat", [1, 2, 3]), ("dog", [4, float("nan"), 6])], 3))
    with pytest.raises(UserError, match=r"v\.bin record 2 of 2: number 2 is 'nan', not a finite"):
        read_vectors(path, "auto", {"cat", "dog"})


def test_binary_header_without_a_line_break_is_bounded(tmp_path):
    path = write(tmp_path / "v.bin", b"1" * (MAX_LINE_BYTES + 10))
    with pytest.raises(UserError, match=r"v\.bin line 1: longer than"):
        read_vectors(path, "auto", {"cat"})
