"""Hostile lengths: a 1 MB line to classify and a 100,000-character prompt run in bounded memory."""

from __future__ import annotations

import logging
import resource
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from textrnn import load_classifier, load_generator
from textrnn.commands import main as cli_main
from textrnn.errors import UserError
from textrnn.inference.classify import main as classify_main
from textrnn.inference.generate import Generator
from textrnn.text.tokenize import DEFAULT_MAX_TOKENS, word_tokenize
from textrnn.training.text_data import TextClassificationData

pytest_plugins = ["test_cli", "test_generate"]

TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")
ONE_MB = ("a wonderful film , " * 60_000)[: 1 << 20]  # about 210,000 tokens on one line


def _record_lengths(net: torch.nn.Module) -> list[int]:
    """The time dimension of every input the model receives."""
    lengths: list[int] = []
    net.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    return lengths


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def test_a_1mb_text_is_cut_to_max_tokens_with_a_warning(trained, caplog):
    classifier = load_classifier(trained[1], device="cpu")
    assert classifier.tokenizer["max_length"] is None and classifier.token_limit == DEFAULT_MAX_TOKENS
    lengths = _record_lengths(classifier.net)
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        long_pred, short_pred = classifier.predict([ONE_MB, "i hated it"])
    assert max(lengths) == DEFAULT_MAX_TOKENS  # the model never saw more
    assert f"1 text(s) longer than {DEFAULT_MAX_TOKENS} tokens were cut to their first" in caplog.text
    head = " ".join(word_tokenize(ONE_MB)[:DEFAULT_MAX_TOKENS])
    alone = classifier.predict([head])[0]  # the cut text is predicted as its first tokens
    # (alone, in a batch of one: another GEMM blocking than beside the short text, so equal to rounding)
    assert long_pred.label == alone.label
    assert long_pred.probability == pytest.approx(alone.probability, abs=1e-6)
    assert short_pred.label == "negative"


def test_max_tokens_is_configurable_and_max_length_wins(trained, caplog):
    ckpt = trained[1]
    text = "great " * 300
    assert len(load_classifier(ckpt, "cpu", max_tokens=50).encode(text)) == 50
    assert len(load_classifier(ckpt, "cpu", max_tokens=None).encode(text)) == 300
    classifier = load_classifier(ckpt, "cpu", max_tokens=50)
    classifier.tokenizer = {**classifier.tokenizer, "max_length": 7}  # a checkpoint trained with max_length
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        classifier.predict([text])
    assert len(classifier.encode(text)) == 7 and "were cut" not in caplog.text  # as in training: no warning
    with pytest.raises(UserError, match="max_tokens must be 1 or more"):
        load_classifier(ckpt, "cpu", max_tokens=0)


def test_classify_command_takes_a_1mb_line(trained):
    cmd = [sys.executable, "-m", "textrnn.inference.classify", "--checkpoint", str(trained[1])]
    code = (
        "import resource, runpy, sys; sys.argv = ['textrnn-classify', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('textrnn.inference.classify', run_name='__main__')\n"
        "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    peaks = {}
    for name, text in {"small": "i hated it", "1mb": ONE_MB}.items():
        result = subprocess.run(
            [sys.executable, "-c", code, *cmd[3:], "--max-tokens", "2000"],
            input=text + "\n",
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("\n") == 1 and result.stdout.split("\t")[0] in ("positive", "negative")
        peaks[name] = int(result.stderr.split("peak ")[-1]) / 1024
    assert "cut to their first 2000" in result.stderr
    # MB: the text and its tokens, 2000 steps of the model (all 210,000 steps add about 110 MB even here)
    assert peaks["1mb"] - peaks["small"] < 50, peaks
    with pytest.raises(SystemExit, match="textrnn-classify: error: --max-tokens must be 0 .no bound. or more"):
        classify_main(["--checkpoint", str(trained[1]), "--max-tokens", "-1", "x"])


def test_predict_command_takes_a_1mb_line(trained, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text(f"{ONE_MB}\ni hated it\n")
    out = tmp_path / "pred.tsv"
    args = ["predict", "--config", TINY, f"--data.predict={texts}", f"--ckpt_path={trained[1]}"]
    result = subprocess.run(
        [sys.executable, "-c", "from textrnn.commands import main; main()", *args, f"--predictions={out}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"1 text(s) longer than {DEFAULT_MAX_TOKENS} tokens were cut" in result.stderr
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[1][0] == "negative"
    with pytest.raises(SystemExit, match="^textrnn: error: data.predict_max_tokens must be 1 or more"):
        cli_main([*args, "--data.predict_max_tokens=0", f"--predictions={tmp_path / 'never.tsv'}"])


def test_data_module_bounds_only_the_texts_to_predict(caplog):
    data = TextClassificationData(predict_max_tokens=5)
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        assert data._tokenize(["a b c d e f g", "a b"], "p.txt", data.predict_max_tokens) == [
            ["a", "b", "c", "d", "e"],
            ["a", "b"],
        ]
    assert (
        "p.txt: 1 text(s) longer than 5 tokens were cut to their first 5 (data.predict_max_tokens)"
        in caplog.text
    )
    assert len(data._tokenize(["a b c d e f g"], "train.tsv")[0]) == 7  # training texts: max_length only
    data.max_length = 3  # the checkpoint's own bound wins, silently, as in training
    assert len(data._tokenize(["a b c d e f g"], "p.txt", 5)[0]) == 3
    assert TextClassificationData(predict_max_tokens=None).predict_max_tokens is None
    with pytest.raises(ValueError, match="data.predict_max_tokens must be 1 or more"):
        TextClassificationData(predict_max_tokens=0)


# -- generation ---------------------------------------------------------------------------------------


def test_a_100k_character_prompt_is_read_in_bounded_chunks(char_ckpt):
    gen = load_generator(char_ckpt[1], device="cpu")
    prompt = ("ROMEO:\nBut soft, what light through yonder window breaks?\n" * 2000)[:100_000]
    lengths = _record_lengths(gen.net)
    before = _peak_rss_mb()
    (text,) = gen.generate(prompt, 30, greedy=True)
    grown = _peak_rss_mb() - before
    assert len(text) == 30
    assert sum(lengths) == 100_000 and max(lengths) == gen.prompt_chunk == 4096  # then 29 steps, not forward
    assert grown < 100, f"peak memory grew by {grown:.0f} MB"  # a whole-prompt pass would not fit either


def test_chunked_prompt_equals_the_prompt_in_one_piece(char_ckpt):
    base = load_generator(char_ckpt[1], device="cpu")
    prompt = ("But soft, what light through yonder window breaks?\n" * 20)[:1000]
    whole = Generator(base.net, base.vocab, prompt_chunk=len(prompt))
    ids = base.encode_prompt(prompt)
    with torch.inference_mode():
        logits_whole, state_whole = whole._read_prompt(ids, 2)
        for chunk in (1, 7, 333):
            logits, state = Generator(base.net, base.vocab, prompt_chunk=chunk)._read_prompt(ids, 2)
            torch.testing.assert_close(logits, logits_whole, atol=1e-5, rtol=0)
            for a, b in zip(state, state_whole):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    chunked = Generator(base.net, base.vocab, prompt_chunk=7)
    assert chunked.generate(prompt, 40, greedy=True) == whole.generate(prompt, 40, greedy=True)


def test_generate_command_takes_a_100k_character_prompt(char_ckpt):
    prompt = ("But soft, what light through yonder window breaks?\n" * 2000)[:100_000]
    cmd = [sys.executable, "-m", "textrnn.inference.generate", "--checkpoint", str(char_ckpt[1]), "--greedy"]
    result = subprocess.run([*cmd, "--prompt", prompt, "--length", "20"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(prompt) and len(result.stdout) == 100_000 + 20 + 1
