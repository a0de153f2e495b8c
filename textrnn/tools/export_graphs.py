"""The graphs ``textrnn export`` writes: the training models in eval mode, without packing.

The training models pack padded batches (``pack_padded_sequence``), which neither format captures
with dynamic shapes. These graphs run each layer and direction of a fused ``nn.LSTM`` / ``nn.GRU`` /
``nn.RNN`` over the padded batch instead (for the cells without a fused kernel, a TorchScript loop over
the cell's own step): the backward direction reads each sequence reversed within its own length, and
final states are read at each sequence's last real step, so the results equal the packed model's
whatever the padding.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from textrnn.nn.cells import RecurrentCell
from textrnn.nn.char_lm import CharLMNet
from textrnn.nn.classifier import TextClassifierNet, word_vectors
from textrnn.nn.encoder import FUSED
from textrnn.nn.recurrent import WEIGHT_NAMES, RecurrentStack, read_unpacked


@dataclass
class Graph:
    """A module to export with example inputs and the names its inputs and outputs get."""

    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: list[str]
    outputs: list[str]


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Hide the exporters' advice (tracer and deprecation warnings): it is about their internals, not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class CellStep(nn.Module):
    """A from-equation LSTM cell's input projection and one step ``(xw_t, h, c) -> (h, c)``, gates dropped."""

    def __init__(self, cell: RecurrentCell):
        super().__init__()
        self.cell = cell

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(T, B, I) -> (T, B, G*H), as :meth:`RecurrentCell.project`."""
        return self.cell.project(x)

    def forward(self, xw: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The state (h, c) after one step, each (B, H)."""
        return self.cell(xw, (h, c))[0]


class StepLoop(nn.Module):
    """One layer of a traced :class:`CellStep` over all time steps, to be scripted: tracing would unroll it."""

    def __init__(self, step: torch.jit.ScriptModule):
        super().__init__()
        self.step = step

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hidden states (T, B, H) for x (T, B, I) from (h, c), and the state after the last step."""
        xw = self.step.project(x)  # every step's input term in one product, as RecurrentStack does
        outputs: list[torch.Tensor] = []
        for t in range(xw.size(0)):
            h, c = self.step(xw[t], h, c)
            outputs.append(h)
        return torch.stack(outputs), h, c


def scripted_layer(cell: RecurrentCell) -> torch.jit.ScriptModule:
    """:class:`StepLoop` over ``cell`` as TorchScript, for any batch size and number of steps.

    The cells return a dict of gates and variable-length tuples, which TorchScript cannot compile; their
    projection and step have no control flow, so tracing them once gives the same ops for any shape.
    """
    x, h = torch.zeros(1, 1, cell.input_size), torch.zeros(1, cell.hidden_size)
    xw = torch.zeros(1, cell.num_blocks * cell.hidden_size)
    with quiet_exporter(), torch.no_grad():
        step = torch.jit.trace_module(CellStep(cell).eval(), {"project": (x,), "forward": (xw, h, h)})
        return torch.jit.script(StepLoop(step))


class LoopLSTM(nn.Module):
    """Stacked from-equation LSTM cells (peephole, coupled-gate) with a time-major ``nn.LSTM``'s interface.

    They have no fused kernel; each layer is a scripted loop, which tracing keeps and the ONNX exporter
    turns into a ``Loop`` op with the number of steps as its trip count.
    """

    def __init__(self, cells: list[RecurrentCell]):
        super().__init__()
        self.num_layers, self.hidden_size = len(cells), cells[0].hidden_size
        self.layers = nn.ModuleList(scripted_layer(cell) for cell in cells)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Outputs (T, B, H) for x (T, B, I) and the final (h, c), each (L, B, H); zero states when None."""
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.size(1), self.hidden_size)
            state = (zeros, zeros)
        finals = []
        for layer, loop in enumerate(self.layers):
            x, *final = loop(x, state[0][layer], state[1][layer])
            finals.append(final)
        h, c = (torch.stack(part) for part in zip(*finals))
        return x, (h, c)


def layer_copy(rnn: nn.RNNBase | RecurrentStack, layers: range, direction: int = 0) -> nn.RNNBase | LoopLSTM:
    """A time-major, one-direction RNN holding ``layers`` of one direction of ``rnn``.

    Fused where the cell has a fused kernel (the weights copied over: same layout), else a :class:`LoopLSTM`.
    """
    if isinstance(rnn, RecurrentStack):
        cells = [rnn.cells[layer * rnn.num_directions + direction] for layer in layers]
        if rnn.cell not in FUSED:
            return LoopLSTM(cells)
        fused_type = FUSED[rnn.cell]
        sources = [{name: getattr(cell, name) for name in WEIGHT_NAMES} for cell in cells]
    else:
        fused_type, directions = type(rnn), 2 if rnn.bidirectional else 1
        sources = [dict(zip(WEIGHT_NAMES, rnn.all_weights[layer * directions + direction])) for layer in layers]
    fused = fused_type(sources[0]["weight_ih"].shape[1], sources[0]["weight_hh"].shape[1], len(layers))
    weights = {f"{name}_l{index}": w for index, source in enumerate(sources) for name, w in source.items()}
    fused.load_state_dict({name: weight.detach().clone() for name, weight in weights.items()})
    return fused.eval()


class ClassifierGraph(nn.Module):
    """:class:`TextClassifierNet` in eval mode without packing: ``(ids, lengths) -> logits``."""

    def __init__(self, net: TextClassifierNet):
        super().__init__()
        rnn = net.encoder.rnn
        directions, layers = net.encoder.num_directions, rnn.num_layers
        self.embedding, self.spelling = net.embedding, net.spelling
        self.pooling, self.head = net.pooling, net.head
        self.layers = nn.ModuleList(
            nn.ModuleList(layer_copy(rnn, range(layer, layer + 1), d) for d in range(directions))
            for layer in range(layers)
        )

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) for ids (B, T) padded with 0 and their lengths (B,)."""
        x = word_vectors(self.embedding, self.spelling, ids).transpose(0, 1)  # (T, B, E)
        layers = [[lambda inputs, rnn=rnn: rnn(inputs)[0] for rnn in directions] for directions in self.layers]
        outputs, last = read_unpacked(layers, x, lengths)  # (T, B, D*H), (B, D*H)
        return self.head(self.pooling(outputs.transpose(0, 1), ids != 0, last))


class CharStepGraph(nn.Module):
    """:class:`CharLMNet` in eval mode: ``(ids, h[, c]) -> (logits, h_out[, c_out])``."""

    def __init__(self, net: CharLMNet):
        super().__init__()
        self.embedding, self.head = net.embedding, net.head
        self.rnn = layer_copy(net.encoder.rnn, range(net.encoder.rnn.num_layers))
        self.state_names = ["h", "c"] if isinstance(self.rnn, nn.LSTM | LoopLSTM) else ["h"]

    def forward(self, ids: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits (B, T, V) for ids (B, T) and the state after the last step, each (L, B, H)."""
        out, new = self.rnn(self.embedding(ids).transpose(0, 1), state if len(state) == 2 else state[0])
        return (self.head(out.transpose(0, 1)), *(new if isinstance(new, tuple) else (new,)))


def classifier_graph(net: TextClassifierNet) -> Graph:
    """The classification task's graph: ``(ids, lengths) -> logits``."""
    ids = torch.tensor([[2, 3, 4], [5, 6, 0]])  # one padded row, so padding is part of the graph
    return Graph(ClassifierGraph(net).eval(), (ids, torch.tensor([3, 2])), ["ids", "lengths"], ["logits"])


def char_step_graph(net: CharLMNet) -> Graph:
    """The character task's graph: ``(ids, *state) -> (logits, *state_out)``, for step-by-step generation."""
    step = CharStepGraph(net).eval()
    names = step.state_names
    state = (torch.zeros(step.rnn.num_layers, 2, step.rnn.hidden_size),) * len(names)
    example = (torch.tensor([[2, 3], [4, 5]]), *state)
    return Graph(step, example, ["ids", *names], ["logits", *(f"{name}_out" for name in names)])
