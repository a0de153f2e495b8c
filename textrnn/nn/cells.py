"""Recurrent cells written from their equations: one time step each, with the gates visible.

Every cell keeps PyTorch's weight layout (``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``,
``bias_hh``, gate blocks stacked in PyTorch's order), so the weights of ``nn.LSTM``, ``nn.GRU`` and
``nn.RNN`` copy over unchanged. The input term ``W x_t + b`` of all time steps is one matrix product
(:meth:`RecurrentCell.project`), leaving one product with ``h_{t-1}`` per step.

A cell's ``forward(xw_t, state)`` returns the new state and a dict of its gate activations, which
``textrnn gates`` records. States are tuples: ``(h,)`` or ``(h, c)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

CellState = tuple[torch.Tensor, ...]
Gates = dict[str, torch.Tensor]


class RecurrentCell(nn.Module):
    """Weights and the input projection shared by all cells.

    Args:
        input_size: Size of x_t.
        hidden_size: Size of h_t (H).
    """

    num_blocks: int  # G: gate blocks stacked in weight_ih / weight_hh
    state_size: int  # 1 for (h,), 2 for (h, c)
    gates: tuple[str, ...]  # names of the recorded activations

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.num_blocks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation for its RNNs: every weight ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(T, B, I) -> (T, B, G*H): ``W x_t + b_ih + b_hh`` for all steps in one product."""
        return F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def recurrent(self, xw: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """(B, G*H): the projected input plus ``U h_{t-1}``, in one fused multiply-add."""
        return torch.addmm(xw, h, self.weight_hh.t())

    def initial_state(self, batch_size: int, like: torch.Tensor) -> CellState:
        """Zeros for every part of the state."""
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return (zeros,) * self.state_size

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNTanhCell(RecurrentCell):
    """The plain (Elman) RNN: ``h_t = tanh(W x_t + b_ih + U h_{t-1} + b_hh)``."""

    num_blocks, state_size, gates = 1, 1, ("h",)

    def forward(self, xw: torch.Tensor, state: CellState) -> tuple[CellState, Gates]:
        h = self.recurrent(xw, state[0]).tanh()  # (B, H)
        return (h,), {"h": h}


class LSTMCell(RecurrentCell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    ``i_t = σ(W_i x_t + U_i h_{t-1} + b_i)``, likewise ``f_t`` and ``o_t``;
    ``g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)`` (the candidate c~_t);
    ``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t``; ``h_t = o_t ⊙ tanh(c_t)``. Blocks in PyTorch's order i, f, g, o.
    """

    num_blocks, state_size, gates = 4, 2, ("i", "f", "g", "o", "c")

    def forward(self, xw: torch.Tensor, state: CellState) -> tuple[CellState, Gates]:
        h, c = state  # (B, H) each
        i, f, g, o = self.recurrent(xw, h).chunk(4, dim=1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c": c}


class PeepholeLSTMCell(RecurrentCell):
    """LSTM whose gates also see the cell state (Gers & Schmidhuber 2000), through diagonal weights p.

    ``i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)``, ``f_t`` likewise with ``p_f``;
    ``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t``; ``o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)`` (the new
    cell state); ``h_t = o_t ⊙ tanh(c_t)``. ``weight_ch`` holds the rows p_i, p_f, p_o.
    """

    num_blocks, state_size, gates = 4, 2, ("i", "f", "g", "o", "c")

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ch = nn.Parameter(torch.empty(3, hidden_size).uniform_(-bound, bound))

    def forward(self, xw: torch.Tensor, state: CellState) -> tuple[CellState, Gates]:
        h, c = state  # (B, H) each
        i, f, g, o = self.recurrent(xw, h).chunk(4, dim=1)
        p_i, p_f, p_o = self.weight_ch
        i, f, g = (i + p_i * c).sigmoid(), (f + p_f * c).sigmoid(), g.tanh()
        c = f * c + i * g
        o = (o + p_o * c).sigmoid()
        h = o * c.tanh()
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c": c}


class CIFGLSTMCell(RecurrentCell):
    """LSTM with a coupled input and forget gate (Greff et al. 2016): ``i_t = 1 - f_t``.

    ``c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ g_t``: the cell forgets exactly as much as it writes,
    with a quarter fewer weights. Blocks in the order f, g, o; ``h_t = o_t ⊙ tanh(c_t)``.
    """

    num_blocks, state_size, gates = 3, 2, ("f", "g", "o", "c")

    def forward(self, xw: torch.Tensor, state: CellState) -> tuple[CellState, Gates]:
        h, c = state  # (B, H) each
        f, g, o = self.recurrent(xw, h).chunk(3, dim=1)
        f, g, o = f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + (1 - f) * g
        h = o * c.tanh()
        return (h, c), {"f": f, "g": g, "o": o, "c": c}


class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014), in PyTorch's convention.

    ``r_t = σ(W_r x_t + b_ir + U_r h_{t-1} + b_hr)``, ``z_t`` likewise;
    ``n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))`` (the candidate h~_t);
    ``h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}``. The tutorials' ``h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t``
    is the same cell with z_t standing for 1 - z_t here; PyTorch's form lets ``nn.GRU`` weights copy over.
    Blocks in the order r, z, n.
    """

    num_blocks, state_size, gates = 3, 1, ("r", "z", "n")

    def project(self, x: torch.Tensor) -> torch.Tensor:
        # b_hn sits inside r_t ⊙ (...), so only the input bias can be folded in here
        return F.linear(x, self.weight_ih, self.bias_ih)

    def forward(self, xw: torch.Tensor, state: CellState) -> tuple[CellState, Gates]:
        h = state[0]  # (B, H)
        x_r, x_z, x_n = xw.chunk(3, dim=1)
        h_r, h_z, h_n = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, dim=1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        h = (1 - z) * n + z * h
        return (h,), {"r": r, "z": z, "n": n}


CELL_TYPES: dict[str, type[RecurrentCell]] = {
    "rnn_tanh": RNNTanhCell,
    "lstm": LSTMCell,
    "peephole_lstm": PeepholeLSTMCell,
    "cifg_lstm": CIFGLSTMCell,
    "gru": GRUCell,
}
