"""RNNEncoder: a recurrent stack over padded batches, built so padding never changes a result.

PyTorch's fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` run on packed sequences; the from-equation cells
of :mod:`textrnn.nn.cells` (peephole and coupled-gate LSTMs, or any cell with ``cell_impl="equations"``)
run in a :class:`~textrnn.nn.recurrent.RecurrentStack` that takes the lengths directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textrnn.nn.cells import CELL_TYPES
from textrnn.nn.recurrent import RecurrentStack, State, read_unpacked

ALIASES = {"rnn": "rnn_tanh"}
FUSED: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}
# PyTorch's one-step kernels, on the fused modules' own weights; below this batch size they beat a fused
# call for one step (measured on CPU, LSTM(64, 384) at batch 1: 0.44x its time with one layer, 0.18x with two)
STEPS = {nn.LSTM: torch.lstm_cell, nn.GRU: torch.gru_cell, nn.RNN: torch.rnn_tanh_cell}
STEP_KERNELS_BELOW = 32
# the whole-sequence kernels behind nn.LSTM / nn.GRU / nn.RNN, called one layer and direction at a time
KERNELS = {nn.LSTM: torch.lstm, nn.GRU: torch.gru, nn.RNN: torch.rnn_tanh}
CELL_IMPLS = ("auto", "equations")


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    cell_impl: str = "auto",
) -> nn.RNNBase | RecurrentStack:
    """Build the batch-first recurrent stack for ``cell``; dropout applies between layers.

    ``cell_impl="auto"`` takes PyTorch's fused kernels where the cell has one; ``"equations"`` always
    takes the from-equation cells (same weights, same results, slower).
    """
    name = ALIASES.get(cell, cell)
    if name not in CELL_TYPES:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join([*CELL_TYPES, *ALIASES])}")
    if cell_impl not in CELL_IMPLS:
        raise ValueError(f"unknown cell_impl {cell_impl!r}; choose one of {', '.join(CELL_IMPLS)}")
    dropout = dropout if num_layers > 1 else 0.0
    if cell_impl == "auto" and name in FUSED:
        return FUSED[name](
            input_size, hidden_size, num_layers, bidirectional=bidirectional, dropout=dropout, batch_first=True
        )
    return RecurrentStack(name, input_size, hidden_size, num_layers, bidirectional, dropout)


def fused_direction(rnn: nn.RNNBase, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Layer and direction ``index`` (``layer * D + direction``) of a fused module as a function
    (T, B, I) -> (T, B, H) from a zero state, computed on the module's own weights."""
    kernel, weights = KERNELS[type(rnn)], rnn.all_weights[index]

    def run(inputs: torch.Tensor) -> torch.Tensor:
        h0 = inputs.new_zeros(1, inputs.size(1), rnn.hidden_size)
        hx = (h0, h0) if isinstance(rnn, nn.LSTM) else h0
        return kernel(inputs, hx, weights, True, 1, 0.0, rnn.training, False, False)[0]

    return run


class RNNEncoder(nn.Module):
    """A stacked, optionally bidirectional recurrent encoder.

    Args:
        input_size: Size of each input vector.
        hidden_size: Units per direction and layer.
        num_layers: Stacked layers.
        cell: ``lstm``, ``gru`` or ``rnn`` (tanh).
        bidirectional: Also read each sequence backwards.
        dropout: Dropout between stacked layers.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.0,
        cell_impl: str = "auto",
    ):
        super().__init__()
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, bidirectional, dropout, cell_impl)
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """Encode a batch.

        Args:
            x: (B, T, input_size) inputs, padded after each sequence's end.
            lengths: (B,) true lengths on the CPU, or None when no sequence is padded.
            state: Initial state, (L*D, B, H) or an LSTM's (h, c) pair.

        Returns:
            outputs (B, T, D*H), zero at padded steps, and the final state of each sequence's
            last real step (for the backward direction: its first step).
        """
        if isinstance(self.rnn, RecurrentStack):
            return self.rnn(x, state, lengths)
        if lengths is None:
            return self.rnn(x, state)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))  # (B, T, D*H)
        return out, state

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs (B, T, D*H), zero at padded steps, and the top layer's final hidden states (B, D*H): what
        a classifier reads. Equals :meth:`forward` with :meth:`last_hidden`.

        On the CPU a fused stack reads a padded batch unpacked (:func:`~textrnn.nn.recurrent.read_unpacked`):
        oneDNN's RNN kernels do not take packed sequences, and on SST-2-sized batches they train a BiLSTM
        1.5-1.8x faster than the packed path (6x on 250-token reviews). CUDA keeps packing, which cuDNN reads.
        """
        rnn = self.rnn
        if lengths is None or isinstance(rnn, RecurrentStack) or x.device.type != "cpu":
            outputs, state = self(x, lengths)
            return outputs, self.last_hidden(state)
        d = self.num_directions
        layers = [[fused_direction(rnn, layer * d + i) for i in range(d)] for layer in range(rnn.num_layers)]
        between = partial(F.dropout, p=rnn.dropout, training=self.training) if rnn.dropout else None
        outputs, last = read_unpacked(layers, x.transpose(0, 1), lengths, between)
        return outputs.transpose(0, 1), last

    def step(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """One time step: the top layer's output (B, H) for x (B, input_size), and the new state.

        What generation calls per character. On the CPU a fused ``nn.LSTM`` call for a single step costs far
        more than its arithmetic at small batches (oneDNN prepares its kernels on every call), so a
        unidirectional fused stack in eval mode runs PyTorch's one-step kernels (``torch.lstm_cell`` ...)
        layer by layer on the same weights for fewer than :data:`STEP_KERNELS_BELOW` sequences.
        """
        rnn = self.rnn
        fused_call = isinstance(rnn, RecurrentStack) or x.size(0) >= STEP_KERNELS_BELOW
        if self.training or self.num_directions == 2 or fused_call:
            out, state = self.forward(x.unsqueeze(1), state=state)
            return out[:, 0], state
        lstm = isinstance(rnn, nn.LSTM)
        if state is None:
            zeros = x.new_zeros(rnn.num_layers, x.size(0), rnn.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        hs, cs = [], []
        for layer, weights in enumerate(rnn.all_weights):  # [w_ih, w_hh, b_ih, b_hh] per layer
            if lstm:
                x, c = torch.lstm_cell(x, (state[0][layer], state[1][layer]), *weights)
                cs.append(c)
            else:
                x = STEPS[type(rnn)](x, state[layer], *weights)
            hs.append(x)
        return x, (torch.stack(hs), torch.stack(cs)) if lstm else torch.stack(hs)

    def last_hidden(self, state: State) -> torch.Tensor:
        """(B, D*H): the top layer's final forward state, concatenated with its final backward state."""
        h = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
        return torch.cat(list(h[-self.num_directions :]), dim=-1)
