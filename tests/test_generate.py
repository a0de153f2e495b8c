"""Character model: stepwise equals whole-sequence, checkpoint round trip, the generator and its script."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

from textrnn import load_generator
from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.training.cli import make_cli

TINY = str(REPO / "tests" / "assets" / "tiny_char.yaml")
GENERATE = [sys.executable, str(REPO / "scripts" / "generate.py")]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "cifg_lstm"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_one_character_at_a_time_equals_the_whole_text(cell, num_layers):
    """Both per-character paths: forward on (B, 1) and step, the generator's one-step kernels."""
    torch.manual_seed(0)
    # AWD-LSTM's regularisers too where the cell has a fused kernel (weight_drop needs one)
    awd = dict(weight_drop=0.5, embedding_dropout=0.1, locked_dropout=True) if cell != "cifg_lstm" else {}
    config = CharLMConfig(
        20, embedding_dim=8, hidden_size=16, num_layers=num_layers, cell=cell, dropout=0.3, **awd
    )
    net = CharLMNet(config).eval()
    ids = torch.randint(2, 20, (3, 25))
    whole, whole_state = net(ids)
    paths = (lambda t, state: net(ids[:, t : t + 1], state), lambda t, state: net.step(ids[:, t], state))
    for one_step in paths:
        state, steps = None, []
        for t in range(ids.size(1)):
            logits, state = one_step(t, state)
            steps.append(logits.view(3, 1, -1))
        torch.testing.assert_close(torch.cat(steps, dim=1), whole, atol=1e-5, rtol=0)
        pairs = zip(state, whole_state) if cell.endswith("lstm") else [(state, whole_state)]
        for a, b in pairs:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_tied_weights_share_one_matrix():
    net = CharLMNet(CharLMConfig(30, embedding_dim=16, hidden_size=16, tie_weights=True))
    assert net.head.weight is net.embedding.weight
    with pytest.raises(ValueError, match="tie_weights needs"):
        CharLMNet(CharLMConfig(30, embedding_dim=8, hidden_size=16, tie_weights=True))


@pytest.fixture(scope="module")
def char_ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("char")
    text = root / "text.txt"
    text.write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n" * 30)
    cli = make_cli(["fit", "--config", TINY, f"--data.files=[{text}]", f"--trainer.default_root_dir={root}"])
    return cli, Path(cli.trainer.checkpoint_callback.best_model_path)


def test_checkpoint_round_trip_gives_identical_logits_and_vocabulary(char_ckpt):
    cli, ckpt = char_ckpt
    gen = load_generator(ckpt, device="cpu")
    assert gen.vocab.itos == cli.datamodule.vocab.itos
    ids = torch.tensor([gen.vocab.encode("ROMEO: But soft")])
    module = cli.model.cpu().eval()
    best = type(module).load_from_checkpoint(ckpt, map_location="cpu").eval()
    torch.testing.assert_close(gen.net(ids)[0], best.net(ids)[0], atol=0, rtol=0)
    assert float(cli.trainer.callback_metrics["val_bpc"]) < 2.0  # it learned the repeated line


def test_the_prompt_is_read_once_then_one_step_per_character(char_ckpt):
    gen = load_generator(char_ckpt[1], device="cpu")
    gen.prompt_chunk = 64
    shapes, steps, step = [], [], gen.net.step
    hook = gen.net.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape)))
    gen.net.step = lambda ids, state: (steps.append(tuple(ids.shape)), step(ids, state))[1]
    gen.generate("ROMEO: " * 30, 40, seed=0, num_samples=3)
    hook.remove()
    assert shapes == [(3, 64), (3, 64), (3, 64), (3, 18)]  # 210 prompt characters, in chunks
    assert steps == [(3,)] * 39  # then one character per step, whatever came before


def test_seeds_greedy_and_stop_strings(char_ckpt):
    gen = load_generator(char_ckpt[1], device="cpu")
    a = gen.generate("ROMEO:", 80, seed=3, num_samples=2)
    assert a == gen.generate("ROMEO:", 80, seed=3, num_samples=2) and a != gen.generate("ROMEO:", 80, seed=4)
    assert [len(t) for t in a] == [80, 80]
    assert gen.generate("ROMEO:", 50, greedy=True) == gen.generate("ROMEO:", 50, top_k=1, seed=9)
    stopped = gen.generate("ROMEO:", 300, greedy=True, stop=["\n"])[0]
    assert stopped.endswith("\n") and "\n" not in stopped[:-1]
    streamed = []
    assert gen.generate("ROMEO:", 30, seed=1, stream=streamed.append)[0] == "".join(streamed)


def test_unseen_prompt_characters_are_read_as_unknown_with_a_warning(char_ckpt, caplog):
    gen = load_generator(char_ckpt[1], device="cpu")
    with caplog.at_level("WARNING", logger="textrnn"):
        text = gen.generate("Zq€ ROMEO", 5, seed=0)[0]
    assert len(text) == 5 and "<" not in text
    assert "unseen in training, read as <unk>: Zq€" in caplog.text


def test_script_prints_the_same_characters_for_the_same_seed(char_ckpt):
    args = [
        *GENERATE,
        "--checkpoint",
        str(char_ckpt[1]),
        "--prompt",
        "ROMEO:",
        "--length",
        "300",
        "--seed",
        "1",
    ]
    first = subprocess.run(args, capture_output=True, text=True)
    second = subprocess.run(args, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("ROMEO:")
    assert len(first.stdout) == len("ROMEO:") + 300 + 1  # prompt, 300 new characters, final newline


def test_script_bad_input_gets_one_line(char_ckpt, tmp_path):
    ckpt = char_ckpt[1]
    sentiment = tmp_path / "sentiment.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["textrnn"]["task"] = "classification"
    torch.save(checkpoint, sentiment)
    cases = {
        ("--checkpoint", str(tmp_path / "none.ckpt")): "no such checkpoint file",
        ("--checkpoint", str(sentiment)): "a classification model, not char_lm; use load_classifier",
        ("--checkpoint", str(ckpt), "--length", "-5"): "length must be 0 or more, not -5",
        ("--checkpoint", str(ckpt), "--prompt", ""): "the prompt is empty",
    }
    for args, message in cases.items():
        result = subprocess.run([*GENERATE, *args], capture_output=True, text=True)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("textrnn-generate: error: ") and message in last
