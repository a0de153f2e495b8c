"""``textrnn gates``: record one layer's gate activations over a text and draw them as heatmaps.

A fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` hides its gates, so its weights are copied into the
from-equation cells of :mod:`textrnn.nn.cells` (same layout, same results), which report every gate.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from textrnn.atomic import atomic_file
from textrnn.errors import UserError
from textrnn.inference.loading import load_model
from textrnn.nn.recurrent import RecurrentStack
from textrnn.text.tokenize import tokenize
from textrnn.text.vocab import Vocab
from textrnn.tools.figures import plot_gates

FUSED_NAMES = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn_tanh"}


@dataclass
class GateTrace:
    """Gate activations of one layer and direction over one text.

    Attributes:
        tokens: The text's tokens (words or characters), one per time step.
        gates: Gate name -> (T, H) activations, e.g. ``i f g o c`` for an LSTM.
        cell: The cell's name.
        layer: The layer recorded (0 = bottom).
        direction: ``forward`` or ``backward``.
    """

    tokens: list[str]
    gates: dict[str, np.ndarray]
    cell: str
    layer: int
    direction: str


def equation_stack(rnn: nn.Module) -> tuple[RecurrentStack, str]:
    """The stack as from-equation cells, and the cell's name; a fused RNN's weights are copied over."""
    if isinstance(rnn, RecurrentStack):
        return rnn, rnn.cell
    if getattr(rnn, "nonlinearity", "tanh") != "tanh":
        raise UserError("only tanh RNNs have a from-equation cell to record")
    name = FUSED_NAMES[type(rnn)]
    stack = RecurrentStack(name, rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional)
    return stack.copy_from(rnn).to(rnn.weight_hh_l0.device), name


def _embed(path: str | Path, text: str) -> tuple[nn.Module, list[str], torch.Tensor]:
    """The model, the text's tokens and their embeddings (1, T, E)."""
    net, record = load_model(path)
    tokens = tokenize(text, record.tokenizer)
    if not tokens:
        raise UserError("the text is empty: give at least one token")
    ids = torch.tensor([Vocab(record.vocab).encode(tokens)])
    return net, tokens, net.embedding(ids)


@torch.inference_mode()
def record_gates(path: str | Path, text: str, layer: int = -1, direction: str = "forward") -> GateTrace:
    """Run ``text`` through a checkpoint's encoder and keep the gates of one layer and direction.

    Args:
        path: A classification or character-model checkpoint.
        text: The text to read.
        layer: Which layer (0 = bottom, -1 = top).
        direction: ``forward``, or ``backward`` for a bidirectional encoder.
    """
    net, tokens, x = _embed(path, text)
    stack, name = equation_stack(net.encoder.rnn)
    directions = ["forward", "backward"][: stack.num_directions]
    if direction not in directions:
        raise UserError(f"--direction {direction!r}: this encoder has {' and '.join(directions)}")
    if not -stack.num_layers <= layer < stack.num_layers:
        last = stack.num_layers - 1
        raise UserError(f"--layer {layer}: this encoder has {stack.num_layers} layer(s), 0 to {last}")
    layer %= stack.num_layers
    _, _, traces = stack.trace(x)
    gates = traces[layer * stack.num_directions + directions.index(direction)]
    return GateTrace(tokens, {k: v[0].float().numpy() for k, v in gates.items()}, name, layer, direction)


def save_trace(trace: GateTrace, png: str | Path, units: int = 64) -> Path:
    """Write the heatmap to ``png`` and the raw values next to it (``.npz``); return the npz's path.

    Both files appear whole or not at all: each is written to a temporary name first.
    """
    png, npz = Path(png), Path(png).with_suffix(".npz")
    title = f"{trace.cell}, layer {trace.layer}, {trace.direction}"
    arrays = {**trace.gates, "tokens": np.array(trace.tokens)}
    meta = {k: np.array(v) for k, v in asdict(trace).items() if k in ("cell", "layer", "direction")}
    for path, write in (
        (npz, lambda f: np.savez(f, **arrays, **meta)),
        (png, lambda f: plot_gates(trace.gates, trace.tokens, title, f, units)),
    ):
        with atomic_file(path) as tmp:
            write(tmp)
    return npz


def main(argv: list[str] | None = None) -> None:
    """``textrnn gates``: heatmaps (PNG) and raw values (npz) of a layer's gates over a text."""
    parser = argparse.ArgumentParser(prog="textrnn gates", description=main.__doc__)
    parser.add_argument("checkpoint", help="a classification or character-model checkpoint")
    parser.add_argument("--text", required=True, help="the text to read")
    parser.add_argument("--layer", type=int, default=-1, help="0 = bottom, -1 = top (default)")
    parser.add_argument("--direction", default="forward", choices=["forward", "backward"])
    parser.add_argument("--units", type=int, default=64, help="units drawn (all are saved); default 64")
    parser.add_argument("--out", default="gates.png", help="the PNG; the npz goes next to it")
    args = parser.parse_args(argv)
    try:
        if not Path(args.out).parent.is_dir():
            raise UserError(f"--out {args.out}: no such directory {Path(args.out).parent}")
        trace = record_gates(args.checkpoint, args.text, args.layer, args.direction)
        npz = save_trace(trace, args.out, args.units)
    except UserError as err:
        sys.exit(f"textrnn gates: error: {err}")
    print(f"{trace.cell} layer {trace.layer} {trace.direction}, {len(trace.tokens)} steps: {args.out}, {npz}")
