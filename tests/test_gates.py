"""``textrnn gates``: the recorded gates reproduce the trained model's states, and the files they go to."""

import numpy as np
import pytest
import torch

from textrnn.commands import main
from textrnn.inference.loading import load_model
from textrnn.text.vocab import Vocab
from textrnn.tools.gates import record_gates, save_trace

pytest_plugins = ["test_cli", "test_generate"]
TEXT = "But soft, what light"


def test_char_model_gates_rebuild_its_final_state(char_ckpt):
    """The fused nn.LSTM's own final (h, c) equal the last step of the recorded o, c: h = o * tanh(c)."""
    _, ckpt = char_ckpt
    trace = record_gates(ckpt, TEXT, layer=-1)
    net, record = load_model(ckpt, "char_lm")
    assert trace.cell == "lstm" and trace.layer == net.encoder.rnn.num_layers - 1 and trace.tokens == list(TEXT)
    assert set(trace.gates) == {"i", "f", "g", "o", "c"}
    assert trace.gates["i"].shape == (len(TEXT), net.encoder.rnn.hidden_size)
    with torch.no_grad():
        _, (h, c) = net.eval()(torch.tensor([Vocab(record.vocab).encode(TEXT)]))
    np.testing.assert_allclose(trace.gates["c"][-1], c[-1, 0].numpy(), atol=1e-5)
    rebuilt = trace.gates["o"][-1] * np.tanh(trace.gates["c"][-1])
    np.testing.assert_allclose(rebuilt, h[-1, 0].numpy(), atol=1e-5)
    for name in "ifo":  # sigmoid gates
        assert 0 <= trace.gates[name].min() and trace.gates[name].max() <= 1


def test_backward_direction_is_in_text_order(trained):
    """The backward LSTM ends at the first word: its h there is the encoder's final backward state."""
    _, ckpt, _, _ = trained
    trace = record_gates(ckpt, "a wonderful film , really", direction="backward")
    net, record = load_model(ckpt, "classification")
    ids = torch.tensor([Vocab(record.vocab).encode(trace.tokens)])
    with torch.no_grad():
        _, (h, _) = net.eval().encoder(net.embedding(ids))
    first_step = trace.gates["o"][0] * np.tanh(trace.gates["c"][0])
    np.testing.assert_allclose(first_step, h[-1, 0].numpy(), atol=1e-5)
    assert trace.tokens == ["a", "wonderful", "film", ",", "really"]


def test_files_hold_the_trace(char_ckpt, tmp_path):
    _, ckpt = char_ckpt
    trace = record_gates(ckpt, TEXT, layer=0)
    npz = save_trace(trace, tmp_path / "g.png", units=8)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = np.load(npz)
    np.testing.assert_array_equal(saved["f"], trace.gates["f"])
    assert saved["tokens"].tolist() == list(TEXT) and int(saved["layer"]) == 0 and str(saved["cell"]) == "lstm"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz", "g.png"]  # no temporary files left


def test_mistakes_get_one_line(char_ckpt, tmp_path):
    _, ckpt = char_ckpt
    for args, message in [
        (["--text", "ab", "--layer", "5"], "--layer 5: this encoder has 2 layer(s)"),
        (["--text", "ab", "--direction", "backward"], "this encoder has forward"),
        (["--text", ""], "the text is empty"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(["gates", str(ckpt), *args, "--out", str(tmp_path / "x.png")])
        assert exit_.value.code.startswith("textrnn gates: error:") and message in exit_.value.code
    assert not list(tmp_path.iterdir())
