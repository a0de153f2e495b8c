"""The from-equation cells: equal to PyTorch's fused RNNs, hand-computed steps, stepwise runs."""

import math

import pytest
import torch

from textrnn.nn.cells import CIFGLSTMCell, PeepholeLSTMCell
from textrnn.nn.encoder import FUSED, make_rnn
from textrnn.nn.recurrent import RecurrentStack, reverse_padded

LENGTHS = torch.tensor([5, 3, 1, 4])


def _pair(cell: str, num_layers: int, bidirectional: bool):
    torch.manual_seed(0)
    fused = make_rnn(cell, 3, 4, num_layers, bidirectional, dropout=0.0)
    ours = RecurrentStack(cell, 3, 4, num_layers, bidirectional).copy_from(fused)
    return fused, ours


def _run_fused(rnn, x, state, lengths):
    if lengths is None:
        return rnn(x, state)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = rnn(packed, state)
    return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0], state


def _loss(out, state):
    """A loss that weighs every output and final-state element differently, so every gradient counts."""
    parts = [out, *(state if isinstance(state, tuple) else (state,))]
    gen = torch.Generator().manual_seed(1)
    return sum((p * torch.randn(p.shape, generator=gen)).sum() for p in parts)


@pytest.mark.parametrize("cell", sorted(FUSED))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "full"])
def test_equations_equal_pytorch_outputs_states_and_gradients(cell, num_layers, bidirectional, padded):
    fused, ours = _pair(cell, num_layers, bidirectional)
    lengths = LENGTHS if padded else None
    directions = 2 if bidirectional else 1
    h0 = torch.randn(num_layers * directions, 4, 4)
    state = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    results = []
    for rnn in (fused, ours):
        x = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(2)).requires_grad_()
        out, final = _run_fused(rnn, x, state, lengths) if rnn is fused else rnn(x, state, lengths)
        _loss(out, final).backward()
        results.append((out, final, x.grad))
    (out_a, state_a, dx_a), (out_b, state_b, dx_b) = results
    torch.testing.assert_close(out_b, out_a, atol=1e-5, rtol=0)
    torch.testing.assert_close(state_b, state_a, atol=1e-5, rtol=0)
    torch.testing.assert_close(dx_b, dx_a, atol=1e-5, rtol=0)
    for index, c in enumerate(ours.cells):
        layer, direction = divmod(index, directions)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            expected = getattr(fused, name + suffix).grad
            torch.testing.assert_close(getattr(c, name).grad, expected, atol=1e-5, rtol=0)


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _set(cell, w_ih, w_hh, b_ih, b_hh):
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (w_ih, w_hh, b_ih, b_hh)):
            getattr(cell, name).copy_(torch.tensor(value).reshape(getattr(cell, name).shape))


def test_peephole_step_by_hand():
    """One unit, one input: every gate's pre-activation written out."""
    cell = PeepholeLSTMCell(1, 1)
    _set(cell, [0.5, -0.3, 0.8, 0.2], [0.1, 0.4, -0.6, 0.3], [0.05, 0.1, 0.0, -0.1], [0.0, 0.2, 0.1, 0.0])
    with torch.no_grad():
        cell.weight_ch.copy_(torch.tensor([[0.7], [-0.2], [0.9]]))
    x, h, c = 1.5, -0.4, 0.6
    i = _sigmoid(0.5 * x + 0.1 * h + 0.7 * c + 0.05)
    f = _sigmoid(-0.3 * x + 0.4 * h - 0.2 * c + 0.1 + 0.2)
    g = math.tanh(0.8 * x - 0.6 * h + 0.1)
    c_new = f * c + i * g
    o = _sigmoid(0.2 * x + 0.3 * h + 0.9 * c_new - 0.1)  # the output gate peeks at the new cell state
    (h_out, c_out), gates = cell(cell.project(torch.tensor([[x]])), (torch.tensor([[h]]), torch.tensor([[c]])))
    assert c_out.item() == pytest.approx(c_new, abs=1e-6)
    assert h_out.item() == pytest.approx(o * math.tanh(c_new), abs=1e-6)
    assert [gates[k].item() for k in "ifgo"] == pytest.approx([i, f, g, o], abs=1e-6)


def test_peephole_weights_are_diagonal():
    """Unit j's gates see only c_j: changing c_1 leaves unit 0's gates alone."""
    torch.manual_seed(0)
    cell = PeepholeLSTMCell(2, 2)
    xw, h = cell.project(torch.randn(1, 2)), torch.randn(1, 2)
    _, a = cell(xw, (h, torch.tensor([[0.3, 0.1]])))
    _, b = cell(xw, (h, torch.tensor([[0.3, 5.0]])))
    assert a["i"][0, 0] == b["i"][0, 0] and a["f"][0, 0] == b["f"][0, 0]
    assert a["i"][0, 1] != b["i"][0, 1]


def test_cifg_step_by_hand():
    """Coupled gates: the input gate is 1 - f, so c moves from c_{t-1} towards g by (1 - f)."""
    cell = CIFGLSTMCell(1, 1)
    _set(cell, [0.5, -0.3, 0.8], [0.1, 0.4, -0.6], [0.05, 0.1, 0.0], [0.0, 0.2, 0.1])
    x, h, c = -0.7, 0.25, -1.2
    f = _sigmoid(0.5 * x + 0.1 * h + 0.05)
    g = math.tanh(-0.3 * x + 0.4 * h + 0.1 + 0.2)
    o = _sigmoid(0.8 * x - 0.6 * h + 0.1)
    c_new = f * c + (1 - f) * g
    (h_out, c_out), gates = cell(cell.project(torch.tensor([[x]])), (torch.tensor([[h]]), torch.tensor([[c]])))
    assert c_out.item() == pytest.approx(c_new, abs=1e-6)
    assert h_out.item() == pytest.approx(o * math.tanh(c_new), abs=1e-6)
    assert gates["f"].item() == pytest.approx(f, abs=1e-6)
    assert sum(p.numel() for p in cell.parameters()) == 3 * (1 + 1 + 2)  # three blocks, not four


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "peephole_lstm", "cifg_lstm", "gru"])
def test_stepwise_equals_whole_sequence(cell):
    """Feeding one step at a time and carrying the state gives the whole-sequence result (generation)."""
    torch.manual_seed(0)
    stack = RecurrentStack(cell, 3, 4, num_layers=2).eval()
    x = torch.randn(2, 6, 3)
    whole, whole_state = stack(x)
    state, steps = None, []
    for t in range(6):
        out, state = stack(x[:, t : t + 1], state)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(state, whole_state, atol=1e-6, rtol=0)


def test_trace_records_each_gate_and_matches_the_outputs():
    torch.manual_seed(0)
    stack = RecurrentStack("lstm", 3, 4, num_layers=2, bidirectional=True).eval()
    x = torch.randn(2, 5, 3)
    out, _, traces = stack.trace(x, lengths=torch.tensor([5, 2]))
    assert len(traces) == 4 and set(traces[0]) == {"i", "f", "g", "o", "c"}
    assert traces[0]["i"].shape == (2, 5, 4)
    # the top layer's forward h is o * tanh(c)
    top = traces[2]
    torch.testing.assert_close(out[0, :, :4], top["o"][0] * top["c"][0].tanh())


def test_reverse_padded_reverses_within_each_length():
    x = torch.arange(8.0).reshape(4, 2, 1)  # (T, B, 1): column 0 = 0, 2, 4, 6; column 1 = 1, 3, 5, 7
    y = reverse_padded(x, torch.tensor([4, 2]))
    assert y[:, 0, 0].tolist() == [6, 4, 2, 0]
    assert y[:, 1, 0].tolist() == [3, 1, 5, 7]
    torch.testing.assert_close(reverse_padded(y, torch.tensor([4, 2])), x)


def test_unknown_cell_names_the_choices():
    with pytest.raises(ValueError, match="peephole_lstm"):
        make_rnn("lstmm", 3, 4, 1, False, 0.0)
    with pytest.raises(ValueError, match="equations"):
        make_rnn("lstm", 3, 4, 1, False, 0.0, cell_impl="fast")
