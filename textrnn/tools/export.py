"""``textrnn export``: a checkpoint as an ONNX or TorchScript file that runs without textrnn.

The exported graphs (:mod:`textrnn.tools.export_graphs`) are traced; both formats keep batch size and
sequence length dynamic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

from textrnn.atomic import atomic_file
from textrnn.errors import UserError
from textrnn.inference.loading import load_model, save_pretrained
from textrnn.inference.record import ModelRecord
from textrnn.inference.registry import get_task
from textrnn.text.vocab import Vocab
from textrnn.tools.export_graphs import Graph, quiet_exporter

FORMATS = ("onnx", "torchscript", "pretrained")


def export_graph(net: nn.Module, record: ModelRecord) -> Graph:
    """The graph to export of a model of any registered task."""
    return get_task(record.task).get("graph")(net)


def consumer_metadata(record: ModelRecord) -> dict:
    """What a consumer needs besides the graph: the model record, and the special token ids."""
    return {**record.to_dict(), "pad_id": Vocab.pad_id, "unk_id": Vocab.unk_id}


def traced(graph: Graph) -> torch.jit.ScriptModule:
    """The graph traced on its example inputs; the scripted loops inside keep their control flow."""
    with quiet_exporter(), torch.no_grad():
        return torch.jit.trace(graph.module, graph.example)


def save_onnx(graph: Graph, record: ModelRecord, path: Path) -> None:
    """Write the graph as ONNX, batch and time dynamic, with :func:`consumer_metadata` as JSON strings."""
    try:
        import onnx
        import onnxruntime  # noqa: F401  (a consumer needs it too: fail before doing any work)
    except ImportError:
        raise UserError("ONNX export needs onnx and onnxruntime: pip install 'textrnn[export]'") from None
    axes = {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    axes["logits"] = {0: "batch"} if "lengths" in graph.inputs else {0: "batch", 1: "time"}
    axes |= {name: {1: "batch"} for name in [*graph.inputs[1:], *graph.outputs[1:]] if name != "lengths"}
    # the TorchScript-based exporter turns a fused RNN into one ONNX RNN op with a dynamic time axis, and a
    # scripted loop into a Loop op; it is given the trace, as it fails to trace into scripted submodules
    # itself (pytorch/pytorch#86261)
    with quiet_exporter(), torch.no_grad():
        torch.onnx.export(
            traced(graph),
            graph.example,
            str(path),
            input_names=graph.inputs,
            output_names=graph.outputs,
            dynamic_axes=axes,
            dynamo=False,
        )
    model = onnx.load(str(path))
    for key, value in consumer_metadata(record).items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(model, str(path))


def save_torchscript(graph: Graph, record: ModelRecord, path: Path) -> None:
    """Trace the graph and write it with :func:`consumer_metadata` inside, as ``textrnn.json``."""
    files = {"textrnn.json": json.dumps(consumer_metadata(record))}
    with quiet_exporter():
        torch.jit.save(traced(graph), str(path), _extra_files=files)


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
    net, record = load_model(checkpoint)
    graph = export_graph(net, record)
    with atomic_file(out) as tmp:
        (save_onnx if fmt == "onnx" else save_torchscript)(graph, record, tmp)
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
