"""``textrnn export``: a checkpoint as an ONNX or TorchScript file that runs without textrnn.

The training models pack padded batches (``pack_padded_sequence``), which neither format captures
with dynamic shapes. The export graphs run each layer and direction of a fused ``nn.LSTM`` /
``nn.GRU`` / ``nn.RNN`` over the padded batch instead: the backward direction reads each sequence
reversed within its own length, and final states are read at each sequence's last real step, so the
results equal the packed model's whatever the padding.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from textrnn.checkpoint import net_from_metadata, read_metadata
from textrnn.encoders import FUSED
from textrnn.errors import UserError
from textrnn.gates import FUSED_NAMES
from textrnn.models import NETS, CharLMNet, TextClassifierNet
from textrnn.recurrent import RecurrentStack, reverse_padded
from textrnn.sharing import save_pretrained
from textrnn.vocab import Vocab

FORMATS = ("onnx", "torchscript", "pretrained")
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def fused_copy(rnn: nn.RNNBase | RecurrentStack, layers: range, direction: int = 0) -> nn.RNNBase:
    """A time-major, one-direction fused RNN holding ``layers`` of one direction of ``rnn``.

    Raises:
        UserError: the cell has no fused kernel (peephole and coupled-gate LSTMs).
    """
    cell = rnn.cell if isinstance(rnn, RecurrentStack) else FUSED_NAMES[type(rnn)]
    if cell not in FUSED:
        raise UserError(
            f"cell {cell!r} cannot be exported to ONNX or TorchScript (only {', '.join(FUSED)} can); "
            "share it with --format pretrained"
        )
    weights = {}
    for index, layer in enumerate(layers):
        if isinstance(rnn, RecurrentStack):
            source = rnn.cells[layer * rnn.num_directions + direction]
            weights |= {f"{name}_l{index}": getattr(source, name) for name in WEIGHTS}
        else:
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights |= {f"{name}_l{index}": getattr(rnn, name + suffix) for name in WEIGHTS}
    input_size, hidden_size = weights["weight_ih_l0"].shape[1], weights["weight_hh_l0"].shape[1]
    fused = FUSED[cell](input_size, hidden_size, len(layers))
    fused.load_state_dict({name: weight.detach().clone() for name, weight in weights.items()})
    return fused.eval()


class ClassifierGraph(nn.Module):
    """:class:`TextClassifierNet` in eval mode without packing: ``(ids, lengths) -> logits``."""

    def __init__(self, net: TextClassifierNet):
        super().__init__()
        rnn = net.encoder.rnn
        directions, layers = net.encoder.num_directions, rnn.num_layers
        self.embedding, self.pooling, self.head = net.embedding, net.pooling, net.head
        self.layers = nn.ModuleList(
            nn.ModuleList(fused_copy(rnn, range(layer, layer + 1), d) for d in range(directions))
            for layer in range(layers)
        )

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) for ids (B, T) padded with 0 and their lengths (B,)."""
        x = self.embedding(ids).transpose(0, 1)  # (T, B, E)
        batch = torch.arange(ids.size(0))
        for directions in self.layers:
            outputs, finals = [], []
            for direction, rnn in enumerate(directions):
                # padding comes after each sequence's end, so it never reaches a real step
                out = rnn(x if direction == 0 else reverse_padded(x, lengths))[0]  # (T, B, H)
                finals.append(out[lengths - 1, batch])
                outputs.append(out if direction == 0 else reverse_padded(out, lengths))
            x = torch.cat(outputs, dim=-1)
        real = torch.arange(x.size(0)).unsqueeze(1) < lengths  # (T, B)
        x = (x * real.unsqueeze(-1)).transpose(0, 1)  # zero after each end, as pad_packed_sequence gives
        return self.head(self.pooling(x, ids != 0, torch.cat(finals, dim=-1)))


class CharStepGraph(nn.Module):
    """:class:`CharLMNet` in eval mode: ``(ids, h[, c]) -> (logits, h_out[, c_out])``."""

    def __init__(self, net: CharLMNet):
        super().__init__()
        self.embedding, self.head = net.embedding, net.head
        self.rnn = fused_copy(net.encoder.rnn, range(net.encoder.rnn.num_layers))

    def forward(self, ids: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits (B, T, V) for ids (B, T) and the state after the last step, each (L, B, H)."""
        out, new = self.rnn(self.embedding(ids).transpose(0, 1), state if len(state) == 2 else state[0])
        return (self.head(out.transpose(0, 1)), *(new if isinstance(new, tuple) else (new,)))


@dataclass
class Graph:
    """A module to export with example inputs and the names its inputs and outputs get."""

    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: list[str]
    outputs: list[str]


def export_graph(meta: dict) -> Graph:
    """The export graph of a checkpoint's metadata (:func:`~textrnn.checkpoint.read_metadata`)."""
    if meta.get("task") not in NETS:
        raise UserError(f"a {meta.get('task')} checkpoint cannot be exported; expected {' or '.join(NETS)}")
    net = net_from_metadata(meta, NETS[meta["task"]]).eval()
    if meta["task"] == "classification":
        ids = torch.tensor([[2, 3, 4], [5, 6, 0]])  # one padded row, so padding is part of the graph
        return Graph(ClassifierGraph(net).eval(), (ids, torch.tensor([3, 2])), ["ids", "lengths"], ["logits"])
    step = CharStepGraph(net).eval()
    names = ["h", "c"][: 2 if isinstance(step.rnn, nn.LSTM) else 1]
    state = (torch.zeros(step.rnn.num_layers, 2, step.rnn.hidden_size),) * len(names)
    example = (torch.tensor([[2, 3], [4, 5]]), *state)
    return Graph(step, example, ["ids", *names], ["logits", *(f"{name}_out" for name in names)])


def consumer_metadata(meta: dict) -> dict:
    """What a consumer needs besides the graph: task, vocabulary, labels, tokeniser settings, special ids."""
    return {
        "task": meta["task"],
        "vocab": meta["vocab"]["tokens"],
        "label_names": meta.get("label_names"),
        "tokenizer": meta.get("tokenizer"),
        "pad_id": Vocab.pad_id,
        "unk_id": Vocab.unk_id,
    }


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Hide the exporters' advice (tracer and deprecation warnings): it is about their internals, not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def save_onnx(graph: Graph, meta: dict, path: Path) -> None:
    """Write the graph as ONNX, batch and time dynamic, with :func:`consumer_metadata` as JSON strings."""
    try:
        import onnx
        import onnxruntime  # noqa: F401  (a consumer needs it too: fail before doing any work)
    except ImportError:
        raise UserError("ONNX export needs onnx and onnxruntime: pip install 'textrnn[export]'") from None
    axes = {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    axes["logits"] = {0: "batch"} if "lengths" in graph.inputs else {0: "batch", 1: "time"}
    axes |= {name: {1: "batch"} for name in [*graph.inputs[1:], *graph.outputs[1:]] if name != "lengths"}
    # the TorchScript-based exporter turns a fused RNN into one ONNX RNN op with a dynamic time axis
    with quiet_exporter(), torch.no_grad():
        torch.onnx.export(
            graph.module,
            graph.example,
            str(path),
            input_names=graph.inputs,
            output_names=graph.outputs,
            dynamic_axes=axes,
            dynamo=False,
        )
    model = onnx.load(str(path))
    for key, value in consumer_metadata(meta).items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(model, str(path))


def save_torchscript(graph: Graph, meta: dict, path: Path) -> None:
    """Trace the graph and write it with :func:`consumer_metadata` inside, as ``textrnn.json``."""
    with quiet_exporter(), torch.no_grad():
        traced = torch.jit.trace(graph.module, graph.example)
        torch.jit.save(traced, str(path), _extra_files={"textrnn.json": json.dumps(consumer_metadata(meta))})


def export(checkpoint: str | Path, fmt: str, out: str | Path) -> Path:
    """Write ``checkpoint`` to ``out`` as ``fmt`` (``onnx``, ``torchscript`` or ``pretrained``); return ``out``.

    The file appears whole or not at all.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: unknown; choose one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: no such directory {out.parent}")
    if fmt == "pretrained":
        return save_pretrained(checkpoint, out)
    meta = read_metadata(checkpoint)
    graph = export_graph(meta)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        (save_onnx if fmt == "onnx" else save_torchscript)(graph, meta, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """``textrnn export``: a checkpoint as ONNX or TorchScript (or a pretrained folder) for serving."""
    parser = argparse.ArgumentParser(prog="textrnn export", description=main.__doc__)
    parser.add_argument("--checkpoint", required=True, help="a classification or character-model checkpoint")
    parser.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}")
    parser.add_argument("--out", required=True, help="the file (a folder for pretrained) to write")
    args = parser.parse_args(argv)
    try:
        out = export(args.checkpoint, args.format, args.out)
    except UserError as err:
        sys.exit(f"textrnn export: error: {err}")
    print(f"{args.format}: {args.checkpoint} -> {out}")
