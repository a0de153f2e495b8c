"""AWD-LSTM's regularisers (Merity et al. 2017): locked dropout, embedding dropout, weight-dropped fused layers.

Each draws its masks only while training; in evaluation they are the identity, so a model trained with them
reads, generates and exports exactly as one without.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.nn.recurrent import State


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout of x (B, T, F) with one mask per sequence, the same at every step (variational dropout)."""
    if not training or p == 0:
        return x
    mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)  # (B, 1, F)
    return x * mask


def embedding_dropout(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """The embedding matrix (V, E) with whole rows dropped: a dropped token is zero wherever it occurs."""
    if not training or p == 0:
        return weight
    mask = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)  # (V, 1)
    return weight * mask


def weight_dropped_layers(
    rnn: nn.RNNBase,
    x: torch.Tensor,
    state: State | None,
    weight_drop: float,
    between: Callable[[torch.Tensor], torch.Tensor],
    kernel: Callable,
) -> tuple[torch.Tensor, State]:
    """A unidirectional, batch-first fused stack run layer by layer: DropConnect on each hidden-to-hidden
    matrix (drawn once per call, so the same at every step), then the fused kernel on the dropped weights.

    Args:
        rnn: The ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` whose weights are read.
        x: (B, T, I) inputs.
        state: (L, B, H), or an LSTM's (h, c) pair; zeros when None.
        weight_drop: Share of the recurrent weights dropped.
        between: Applied to each layer's outputs before the next layer reads them.
        kernel: The whole-sequence kernel of ``rnn`` (``torch.lstm`` ...).

    Returns:
        The top layer's outputs (B, T, H) and the final state, as ``rnn`` gives them.
    """
    lstm = isinstance(rnn, nn.LSTM)
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, x.size(0), rnn.hidden_size)
        state = (zeros, zeros) if lstm else zeros
    finals = []
    for layer, (w_ih, w_hh, *biases) in enumerate(rnn.all_weights):
        if layer:
            x = between(x)
        w_hh = F.dropout(w_hh, weight_drop, rnn.training)
        hx = tuple(part[layer : layer + 1] for part in state) if lstm else state[layer : layer + 1]
        x, *final = kernel(x, hx, [w_ih, w_hh, *biases], True, 1, 0.0, rnn.training, False, True)
        finals.append(final)
    parts = [torch.cat(part) for part in zip(*finals)]  # each (L, B, H)
    return x, (parts[0], parts[1]) if lstm else parts[0]
