"""RecurrentStack: from-equation cells in layers and directions, with ``nn.LSTM``'s interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.nn.cells import CELL_TYPES, CellState, Gates, RecurrentCell

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # per cell, as PyTorch's fused RNNs name them


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of x (T, B, F) within its own length; padding stays at the end.

    Applying it twice gives x back, so it also maps the backward direction's outputs home.
    """
    if lengths is None:
        return x.flip(0)
    steps = torch.arange(x.size(0)).unsqueeze(1)  # (T, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (T, B)
    return x.gather(0, index.to(x.device).unsqueeze(-1).expand_as(x))


def read_unpacked(
    layers: Sequence[Sequence[Callable[[torch.Tensor], torch.Tensor]]],
    x: torch.Tensor,
    lengths: torch.Tensor,
    between: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacked one-direction RNN layers over a padded batch, giving what a packed batch would give.

    Padding comes after each sequence's end, so it never reaches a real step: the forward direction reads
    the padded batch as it is, the backward direction each sequence reversed within its length.

    Args:
        layers: Per layer, one function per direction: (T, B, I) -> its hidden states (T, B, H).
        x: (T, B, I) inputs, time-major.
        lengths: (B,) true lengths on x's device.
        between: Applied to each layer's outputs before the next layer reads them (dropout).

    Returns:
        outputs (T, B, D*H), zero after each sequence's end, and the top layer's final hidden states
        (B, D*H): each direction's state after its last real step.
    """
    batch = torch.arange(x.size(1), device=x.device)
    for index, directions in enumerate(layers):
        if index and between is not None:
            x = between(x)
        outputs, finals = [], []
        for direction, run in enumerate(directions):
            out = run(x if direction == 0 else reverse_padded(x, lengths))  # (T, B, H)
            finals.append(out[lengths - 1, batch])
            outputs.append(out if direction == 0 else reverse_padded(out, lengths))
        x = torch.cat(outputs, dim=-1)  # (T, B, D*H)
    real = torch.arange(x.size(0), device=x.device).unsqueeze(1) < lengths  # (T, B)
    return x.masked_fill(~real.unsqueeze(-1), 0.0), torch.cat(finals, dim=-1)


def run_cell(
    cell: RecurrentCell, x: torch.Tensor, state: CellState, lengths: torch.Tensor | None, record: bool
) -> tuple[torch.Tensor, CellState, dict[str, torch.Tensor]]:
    """Run one cell over x (T, B, I) from ``state``.

    Steps after a sequence's end are computed but never feed a real step (padding comes last); the
    final state is read at each sequence's last real step.

    Returns:
        hidden states (T, B, H), the final state, and when ``record`` each gate stacked to (T, B, H).
    """
    xw = cell.project(x)  # (T, B, G*H)
    states: list[CellState] = []
    trace: list[Gates] = []
    for xw_t in xw.unbind(0):
        state, gates = cell(xw_t, state)
        states.append(state)
        if record:
            trace.append(gates)
    hidden = torch.stack([s[0] for s in states])  # (T, B, H)
    if lengths is not None and int(lengths.min()) < x.size(0):
        last = (lengths - 1).to(x.device)
        batch = torch.arange(x.size(1), device=x.device)
        state = tuple(torch.stack(part)[last, batch] for part in zip(*states))
    gates = {name: torch.stack([g[name] for g in trace]) for name in cell.gates} if record else {}
    return hidden, state, gates


class RecurrentStack(nn.Module):
    """Stacked, optionally bidirectional layers of a from-equation cell; batch-first like ``nn.LSTM``.

    Args:
        cell: A name in :data:`textrnn.nn.cells.CELL_TYPES`.
        input_size: Size of each input vector.
        hidden_size: Units per direction and layer.
        num_layers: Stacked layers.
        bidirectional: Also read each sequence backwards (within its length).
        dropout: Dropout on the outputs of every layer but the last, while training.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.num_layers, self.num_directions, self.dropout = num_layers, 2 if bidirectional else 1, dropout
        self.cell, self.hidden_size = cell, hidden_size
        cls = CELL_TYPES[cell]
        self.cells = nn.ModuleList(
            cls(input_size if layer == 0 else hidden_size * self.num_directions, hidden_size)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )
        self.has_cell_state = cls.state_size == 2

    def forward(
        self, x: torch.Tensor, state: State | None = None, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Outputs (B, T, D*H), zero after each sequence's end, and the final state as ``nn.LSTM`` gives it.

        Args:
            x: (B, T, I), padded after each sequence's end.
            state: (L*D, B, H), or an (h, c) pair of them; zeros when None.
            lengths: (B,) true lengths on the CPU, or None when nothing is padded.
        """
        out, state, _ = self.trace(x, state, lengths, record=False)
        return out, state

    def trace(
        self,
        x: torch.Tensor,
        state: State | None = None,
        lengths: torch.Tensor | None = None,
        record: bool = True,
    ) -> tuple[torch.Tensor, State, list[dict[str, torch.Tensor]]]:
        """:meth:`forward`, plus each cell's gates (B, T, H) in the input's time order.

        The gate dicts come in layer-major order (index ``layer * D + direction``); values after a
        sequence's end are those of steps that never reach a real one.
        """
        x = x.transpose(0, 1)  # (T, B, I)
        initial = self._split_state(state, x)
        finals, traces = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                inputs = x if direction == 0 else reverse_padded(x, lengths)
                hidden, final, gates = run_cell(self.cells[index], inputs, initial[index], lengths, record)
                if direction == 1:  # back to the input's time order
                    hidden = reverse_padded(hidden, lengths)
                    gates = {k: reverse_padded(v, lengths) for k, v in gates.items()}
                outputs.append(hidden)
                finals.append(final)
                traces.append({k: v.transpose(0, 1) for k, v in gates.items()})
            x = torch.cat(outputs, dim=-1)  # (T, B, D*H)
            if layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, self.training)
        if lengths is not None:
            x = x * (torch.arange(x.size(0)).unsqueeze(1) < lengths).to(x).unsqueeze(-1)
        return x.transpose(0, 1), self._join_state(finals), traces

    def _split_state(self, state: State | None, x: torch.Tensor) -> list[CellState]:
        if state is None:
            return [cell.initial_state(x.size(1), x) for cell in self.cells]
        parts = state if isinstance(state, tuple) else (state,)
        return [tuple(part[index] for part in parts) for index in range(len(self.cells))]

    def _join_state(self, finals: list[CellState]) -> State:
        parts = tuple(torch.stack(part) for part in zip(*finals))  # each (L*D, B, H)
        return parts if self.has_cell_state else parts[0]

    @torch.no_grad()
    def copy_from(self, rnn: nn.RNNBase) -> RecurrentStack:
        """Take the weights of a PyTorch ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` of the same shape."""
        for index, cell in enumerate(self.cells):
            layer, direction = divmod(index, self.num_directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for name in WEIGHT_NAMES:
                getattr(cell, name).copy_(getattr(rnn, name + suffix))
        return self
