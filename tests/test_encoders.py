import pytest
import torch

from textrnn.nn import encoder
from textrnn.nn.encoder import RNNEncoder
from textrnn.nn.pooling import Pooling

CELLS = [("lstm", "auto"), ("gru", "auto"), ("rnn", "auto")]
CELLS += [(c, "equations") for c in ("lstm", "gru", "rnn_tanh", "peephole_lstm", "cifg_lstm")]


@pytest.mark.parametrize(("cell", "cell_impl"), CELLS, ids=[f"{c}-{i}" for c, i in CELLS])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_padding_never_changes_outputs_or_final_states(cell, cell_impl, num_layers):
    """Each sequence alone equals the same sequence inside a padded batch, in both directions."""
    torch.manual_seed(0)
    enc = RNNEncoder(4, 5, num_layers, cell, bidirectional=True, cell_impl=cell_impl).eval()
    lengths = torch.tensor([3, 7, 1, 5])
    x = torch.randn(4, 7, 4)
    x[torch.arange(7) >= lengths[:, None]] = 99.0  # garbage in the padding must not leak
    out, state = enc(x, lengths)
    has_c = isinstance(state, tuple)
    h = state[0] if has_c else state
    for i, n in enumerate(lengths.tolist()):
        alone_out, alone_state = enc(x[i : i + 1, :n])
        alone_h = alone_state[0] if has_c else alone_state
        torch.testing.assert_close(out[i, :n], alone_out[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(h[:, i], alone_h[:, 0], atol=1e-6, rtol=0)
        assert out[i, n:].abs().max().item() == 0 if n < 7 else True
        if has_c:
            torch.testing.assert_close(state[1][:, i], alone_state[1][:, 0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, True), (2, True), (2, False)])
def test_the_unpacked_cpu_path_equals_the_packed_one_with_its_gradients(
    cell, num_layers, bidirectional, monkeypatch
):
    """encode (unpacked on the CPU, for oneDNN's kernels) = forward on a packed batch + last_hidden."""
    torch.manual_seed(0)
    enc = RNNEncoder(4, 5, num_layers, cell, bidirectional, dropout=0.0).train()
    lengths = torch.tensor([3, 7, 1, 5, 7])
    x = torch.randn(5, 7, 4)
    x[torch.arange(7) >= lengths[:, None]] = 99.0
    x.requires_grad_()
    weights = [x, *enc.parameters()]
    out, state = enc(x, lengths)
    packed = (out, enc.last_hidden(state))
    monkeypatch.setattr(encoder, "pack_padded_sequence", None)  # encode must not pack
    unpacked = enc.encode(x, lengths)
    for a, b in zip(packed, unpacked):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    probe = [torch.randn_like(t) for t in packed]  # any downstream loss
    grads = [
        torch.autograd.grad(sum((t * p).sum() for t, p in zip(ts, probe)), weights) for ts in (packed, unpacked)
    ]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert grads[1][0][torch.arange(7) >= lengths[:, None]].abs().max() == 0  # padding gets no gradient


def test_last_hidden_is_forward_end_and_backward_start():
    torch.manual_seed(0)
    enc = RNNEncoder(3, 4, num_layers=2, cell="gru", bidirectional=True).eval()
    x = torch.randn(2, 6, 3)
    out, state = enc(x, torch.tensor([6, 6]))
    last = enc.last_hidden(state)
    torch.testing.assert_close(last[:, :4], out[:, -1, :4])  # forward direction at the end
    torch.testing.assert_close(last[:, 4:], out[:, 0, 4:])  # backward direction at the start


def _outputs():
    outputs = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [50.0, 50.0]], [[-1.0, 4.0], [2.0, 2.0], [0.0, 1.0]]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    return outputs, mask


def test_mean_and_max_ignore_padding():
    outputs, mask = _outputs()
    pooled = Pooling("mean+max", 2)(outputs, mask, last=torch.zeros(2, 2))
    torch.testing.assert_close(pooled[0], torch.tensor([2.0, -1.0, 3.0, 0.0]))
    torch.testing.assert_close(pooled[1], torch.tensor([1 / 3, 7 / 3, 2.0, 4.0]))


def test_attention_gives_padding_no_weight():
    outputs, mask = _outputs()
    pool = Pooling("attention", 2)
    with torch.no_grad():
        pool.query.copy_(torch.tensor([1.0, 1.0]))
    pooled = pool(outputs, mask, last=torch.zeros(2, 2))
    w = torch.softmax(torch.tensor([-1.0, 3.0]), 0)  # scores of the two real steps of row 0
    torch.testing.assert_close(pooled[0], w[0] * outputs[0, 0] + w[1] * outputs[0, 1])


def test_last_pooling_returns_the_final_state_and_unknown_names_fail():
    outputs, mask = _outputs()
    last = torch.randn(2, 2)
    torch.testing.assert_close(Pooling("last", 2)(outputs, mask, last), last)
    with pytest.raises(ValueError, match="unknown pooling"):
        Pooling("median", 2)
