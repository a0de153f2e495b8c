"""AWD-LSTM's regularisers: their masks, the weight-dropped fused path, and that evaluation ignores them."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.nn.regularize import embedding_dropout, locked_dropout, weight_dropped_layers

AWD = dict(dropout=0.3, input_dropout=0.4, embedding_dropout=0.1, weight_drop=0.5, locked_dropout=True)


def test_locked_dropout_draws_one_mask_per_sequence_and_feature():
    torch.manual_seed(0)
    out = locked_dropout(torch.ones(4, 30, 16), 0.5, training=True)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}  # kept values scaled by 1 / (1 - p)
    x = torch.randn(2, 3, 4)
    assert locked_dropout(x, 0.5, training=False) is x


def test_embedding_dropout_drops_whole_rows():
    torch.manual_seed(0)
    weight = torch.randn(50, 8)
    dropped = embedding_dropout(weight, 0.3, training=True)
    zero = (dropped == 0).all(dim=1)
    assert 0 < int(zero.sum()) < 50
    torch.testing.assert_close(dropped[~zero], weight[~zero] / 0.7)


@pytest.mark.parametrize("cls, kernel", [(nn.LSTM, torch.lstm), (nn.GRU, torch.gru)])
def test_layer_by_layer_without_drop_equals_the_fused_stack(cls, kernel):
    torch.manual_seed(0)
    rnn = cls(6, 10, num_layers=3, batch_first=True)
    x = torch.randn(4, 7, 6)
    expected, expected_state = rnn(x)
    got, state = weight_dropped_layers(rnn, x, None, 0.0, lambda h: h, kernel)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    for a, b in zip(state, expected_state, strict=True) if cls is nn.LSTM else [(state, expected_state)]:
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_weight_drop_runs_the_fused_kernel_on_the_dropped_recurrent_matrix():
    torch.manual_seed(0)
    rnn = nn.LSTM(6, 10, batch_first=True)
    x = torch.randn(4, 7, 6)
    torch.manual_seed(1)
    got, _ = weight_dropped_layers(rnn, x, None, 0.5, lambda h: h, torch.lstm)
    torch.manual_seed(1)
    dropped = F.dropout(rnn.weight_hh_l0.detach(), 0.5, training=True)
    manual = nn.LSTM(6, 10, batch_first=True)
    manual.load_state_dict(rnn.state_dict() | {"weight_hh_l0": dropped})
    torch.testing.assert_close(got, manual(x)[0], atol=1e-6, rtol=0)
    got.sum().backward()
    assert rnn.weight_ih_l0.grad.abs().sum() > 0 and rnn.weight_hh_l0.grad[dropped == 0].abs().sum() == 0


def test_regularised_char_model_evaluates_as_the_plain_one_and_trains_with_fresh_masks():
    torch.manual_seed(0)
    net = CharLMNet(CharLMConfig(20, embedding_dim=8, hidden_size=16, num_layers=2, **AWD))
    plain = CharLMNet(CharLMConfig(20, embedding_dim=8, hidden_size=16, num_layers=2))
    plain.load_state_dict(net.state_dict())
    ids = torch.randint(2, 20, (3, 12))
    net.eval(), plain.eval()
    torch.testing.assert_close(net(ids)[0], plain(ids)[0], atol=0, rtol=0)
    net.train()
    first, second = net(ids)[0], net(ids)[0]
    assert not torch.allclose(first, second)  # new masks each batch
    assert net.state_dict().keys() == plain.state_dict().keys()


def test_weight_drop_needs_a_fused_cell():
    with pytest.raises(ValueError, match="need a fused cell"):
        CharLMNet(CharLMConfig(20, cell="peephole_lstm", weight_drop=0.3))
    CharLMNet(CharLMConfig(20, cell="peephole_lstm", locked_dropout=True))  # one layer: nothing between
