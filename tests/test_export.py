"""``textrnn export``: ONNX and TorchScript files give the PyTorch model's numbers on unseen shapes."""

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from textrnn.commands import main
from textrnn.inference.loading import RECORD_KEY, load_model
from textrnn.inference.record import ModelRecord
from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet
from textrnn.text.vocab import Vocab
from textrnn.tools.export import export

pytest_plugins = ["test_cli", "test_generate"]
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
TOLERANCE = 1e-4


def words(vocab_size: int) -> list[str]:
    """A vocabulary of ``vocab_size`` tokens: the specials, then w0, w1, ..."""
    return ["<pad>", "<unk>", *(f"w{i}" for i in range(vocab_size - 2))]


def save_checkpoint(net: torch.nn.Module, task: str, path) -> str:
    """A checkpoint of a plain model, laid out as the Lightning tasks write them."""
    vocab = words(net.config.vocab_size)
    labels = [f"c{i}" for i in range(net.config.num_classes)] if task == "classification" else None
    record = ModelRecord(task, type(net).__name__, asdict(net.config), vocab, labels)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({RECORD_KEY: record.to_dict(), "state_dict": state}, path)
    return str(path)


def padded_batch(vocab_size: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids (B, T) padded with 0 after each of ``lengths``."""
    lengths = torch.tensor(lengths)
    ids = torch.randint(2, vocab_size, (len(lengths), int(lengths.max())))
    return ids * (torch.arange(ids.size(1)) < lengths.unsqueeze(1)), lengths


def run_onnx(path, **inputs: torch.Tensor) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in inputs.items()})


def exported_logits(path, fmt: str, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    if fmt == "onnx":
        return torch.from_numpy(run_onnx(path, ids=ids, lengths=lengths)[0])
    return torch.jit.load(str(path))(ids, lengths)


# cell, cell_impl, bidirectional, num_layers, pooling (+static: fixed vector channel, +chars: char features)
CLASSIFIERS = [
    ("lstm", "auto", True, 2, "last+attention"),
    ("lstm", "auto", True, 1, "max+mean+static"),
    ("gru", "auto", True, 1, "max+mean+chars"),
    ("gru", "auto", True, 1, "max+mean"),
    ("rnn_tanh", "auto", False, 2, "last+max"),
    ("lstm", "equations", True, 1, "mean+last"),
    ("gru", "equations", False, 2, "attention"),
    # no fused kernel: each layer and direction is a scripted loop over the cell's own step
    ("peephole_lstm", "auto", True, 2, "last+attention"),
    ("peephole_lstm", "auto", False, 1, "mean"),
    ("cifg_lstm", "auto", False, 2, "max+mean"),
    ("cifg_lstm", "auto", True, 1, "last"),
]
CHAR_MODELS = [  # cell, cell_impl
    ("lstm", "auto"),
    ("gru", "equations"),
    ("rnn_tanh", "auto"),
    ("peephole_lstm", "auto"),
    ("cifg_lstm", "auto"),
]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("cell, cell_impl, bidirectional, num_layers, pooling", CLASSIFIERS)
def test_classifier_logits_match_on_a_padded_batch(
    fmt, cell, cell_impl, bidirectional, num_layers, pooling, tmp_path
):
    torch.manual_seed(0)
    # rows from 40 on are fixed (as words added from pretrained vectors are): the embedding's other path
    hparams = dict(vocab_size=50, num_classes=3, embedding_dim=8, hidden_size=6, trainable_rows=40)
    static, chars = "+static" in pooling, "+chars" in pooling
    pooling = pooling.removesuffix("+static").removesuffix("+chars")
    hparams |= dict(cell=cell, cell_impl=cell_impl, bidirectional=bidirectional, pooling=pooling)
    hparams |= dict(num_layers=num_layers, static_vectors=static, char_features=5 if chars else 0)
    net = TextClassifierNet(TextClassifierConfig(**hparams), vocab=words(50)).eval()
    out = export(save_checkpoint(net, "classification", tmp_path / "c.ckpt"), fmt, tmp_path / "m")
    ids, lengths = padded_batch(50, [9, 4, 1, 7, 9])  # batch 5, length 9: unlike the example (2, 3)
    with torch.no_grad():
        expected = net(ids, lengths)
        torch.testing.assert_close(exported_logits(out, fmt, ids, lengths), expected, atol=TOLERANCE, rtol=0)
        # each row's logits do not depend on what else is in the batch, nor on the padding
        alone = exported_logits(out, fmt, ids[2:3, :1], lengths[2:3])
        torch.testing.assert_close(alone, expected[2:3], atol=TOLERANCE, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "m"]  # no temporary file left


def char_steps(path, fmt: str, ids: torch.Tensor, state: list[torch.Tensor], size: int = 1) -> torch.Tensor:
    """The logits (B, T, V) of feeding ``ids`` ``size`` characters at a time, carrying the state."""
    step = torch.jit.load(str(path)) if fmt == "torchscript" else None
    names = ["h", "c"][: len(state)]
    logits = []
    for chunk in ids.split(size, dim=1):
        if step is None:
            logits_t, *state = map(torch.from_numpy, run_onnx(path, ids=chunk, **dict(zip(names, state))))
        else:
            logits_t, *state = step(chunk, *state)
        logits.append(logits_t)
    return torch.cat(logits, dim=1)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("cell, cell_impl", CHAR_MODELS)
def test_char_model_step_by_step_equals_the_whole_text(fmt, cell, cell_impl, tmp_path):
    torch.manual_seed(0)
    hparams = dict(vocab_size=20, embedding_dim=8, hidden_size=16, num_layers=2, cell=cell, cell_impl=cell_impl)
    if cell_impl == "auto" and cell in ("lstm", "rnn_tanh"):  # AWD-LSTM's regularisers: off in the export
        hparams |= dict(weight_drop=0.5, embedding_dropout=0.1, locked_dropout=True, dropout=0.2)
    net = CharLMNet(CharLMConfig(**hparams)).eval()
    out = export(save_checkpoint(net, "char_lm", tmp_path / "c.ckpt"), fmt, tmp_path / "m")
    ids = torch.randint(2, 20, (3, 12))
    state = [torch.zeros(2, 3, 16)] * (2 if cell.endswith("lstm") else 1)
    with torch.no_grad():
        whole, _ = net(ids)
        for size in (1, 5, 12):  # one character at a time (generation), chunks, the whole text at once
            torch.testing.assert_close(char_steps(out, fmt, ids, state, size), whole, atol=TOLERANCE, rtol=0)


def test_cli_exports_the_trained_classifier_with_its_metadata(trained, tmp_path, capsys):
    _, ckpt, _, _ = trained
    net, record = load_model(ckpt, "classification")
    vocab = Vocab(record.vocab)
    texts = [["a", "wonderful", ",", "moving", "film"], ["dull"], ["i", "hated", "it"]]
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(vocab.encode(t)) for t in texts], batch_first=True)
    lengths = torch.tensor([len(t) for t in texts])
    with torch.no_grad():
        expected = net.eval()(ids, lengths)
    for fmt, name in [("onnx", "model.onnx"), ("torchscript", "model.pt")]:
        main(["export", "--checkpoint", str(ckpt), "--format", fmt, "--out", str(tmp_path / name)])
        assert capsys.readouterr().out.strip() == f"{fmt}: {ckpt} -> {tmp_path / name}"
        with torch.no_grad():
            got = exported_logits(tmp_path / name, fmt, ids, lengths)
        torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=0)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props}
    assert props["task"] == "classification" and props["vocab"] == vocab.itos
    assert props["label_names"] == ["negative", "positive"] and props["tokenizer"] == record.tokenizer
    files = {"textrnn.json": ""}
    torch.jit.load(str(tmp_path / "model.pt"), _extra_files=files)
    assert json.loads(files["textrnn.json"]) == props


def test_cli_exports_the_trained_char_model(char_ckpt, tmp_path):
    _, ckpt = char_ckpt
    main(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "char.onnx")])
    net, record = load_model(ckpt, "char_lm")
    ids = torch.tensor([Vocab(record.vocab).encode("ROMEO: But")])
    layers, hidden = net.encoder.rnn.num_layers, net.encoder.rnn.hidden_size
    with torch.no_grad():
        whole, _ = net.eval()(ids)
    steps = char_steps(tmp_path / "char.onnx", "onnx", ids, [torch.zeros(layers, 1, hidden)] * 2)
    torch.testing.assert_close(steps, whole, atol=TOLERANCE, rtol=0)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "char.onnx")).metadata_props}
    assert props["task"] == "char_lm" and props["tokenizer"] == {"kind": "char"}


def error_of(*args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *args])
    return str(exit_info.value.code)


def test_mistakes_get_one_line_and_leave_no_file(tmp_path, monkeypatch):
    hparams = dict(vocab_size=10, num_classes=2, embedding_dim=4, hidden_size=3)
    lstm = save_checkpoint(
        TextClassifierNet(TextClassifierConfig(**hparams)), "classification", tmp_path / "l.ckpt"
    )
    out = str(tmp_path / "m.onnx")
    for args, message in [
        (["--checkpoint", lstm, "--format", "tflite", "--out", out], "--format tflite: unknown; choose one of"),
        (["--checkpoint", lstm, "--format", "onnx", "--out", str(tmp_path / "no" / "m")], "no such directory"),
        (["--checkpoint", str(tmp_path / "none.ckpt"), "--format", "onnx", "--out", out], "no such checkpoint"),
    ]:
        error = error_of(*args)
        assert error.startswith("textrnn export: error: ") and message in error and "\n" not in error
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    error = error_of("--checkpoint", lstm, "--format", "onnx", "--out", out)
    assert "pip install 'textrnn[export]'" in error and "\n" not in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.ckpt"]


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    hparams = dict(vocab_size=10, num_classes=2, embedding_dim=4, hidden_size=3)
    ckpt = save_checkpoint(
        TextClassifierNet(TextClassifierConfig(**hparams)), "classification", tmp_path / "c.ckpt"
    )

    def write_half(module, path, **kwargs):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch.jit, "save", write_half)
    with pytest.raises(OSError, match="disk full"):
        export(ckpt, "torchscript", tmp_path / "m.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt"]
