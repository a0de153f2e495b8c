"""The ``textrnn`` command end to end: configs, fit/test/predict, checkpoints, bad input."""

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from conftest import REPO

from textrnn.inference.loading import load_model
from textrnn.nn.cells import CELL_TYPES
from textrnn.nn.recurrent import RecurrentStack
from textrnn.training.cli import make_cli

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")


def _textrnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "from textrnn.commands import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_config_runs_one_batch_on_cpu(config, tiny_tsv, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    args = ["fit", "--config", str(config), "--trainer.fast_dev_run=true", "--trainer.accelerator=cpu"]
    args += [
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    if "imdb" in config.name:  # a hub dataset: offline here, so the same recipe on local files
        args += ["--data.dataset=null", f"--data.train={tiny_tsv['train']}", "--data.text_column=sentence"]
    cli = make_cli(args)
    assert cli.model.hparams.vocab_size == len(cli.datamodule.vocab) == cli.model.net.embedding.num_embeddings
    assert cli.model.vocab == cli.datamodule.vocab.itos
    assert torch.isfinite(cli.trainer.callback_metrics["train_loss"])
    if cli.model.task == "char_lm":
        assert cli.model.hparams.tokenizer == {"kind": "char"} and 60 <= cli.model.hparams.vocab_size <= 70
        return
    names = ["0", "1"] if "imdb" in config.name else ["negative", "positive"]  # imdb here: local int labels
    if "sst5" in config.name:
        names = ["very negative", "negative", "neutral", "positive", "very positive"]
    assert cli.model.hparams.num_classes == len(names) and cli.model.hparams.label_names == names
    matrix = cli.datamodule.embedding_matrix  # the linked pretrained rows reach the embedding layer
    assert cli.model.hparams.embedding_dim == matrix.shape[1]
    if cli.model.hparams.get("init_from"):  # started from another classifier: one Adam step (<= lr) from it
        source, _ = load_model(cli.model.hparams.init_from)
        lr = cli.trainer.optimizers[0].param_groups[0]["initial_lr"]
        ours = cli.model.net.encoder.state_dict()
        assert all((ours[k] - v).abs().max() <= lr * 1.001 for k, v in source.encoder.state_dict().items())
        return
    # one Adam step changes only the rows of the batch's words: the rest are the pretrained rows
    same = (cli.model.net.embedding.weight.detach().cpu() == matrix).all(dim=1).float().mean()
    assert same > 0.9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier fitted on the tiny data through the CLI, with its checkpoint."""
    root = tmp_path_factory.mktemp("fit")
    from conftest import TINY_ROWS, write_tsv

    files = {
        s: str(write_tsv(root / f"{s}.tsv", TINY_ROWS * (4 if s == "train" else 1))) for s in ("train", "dev")
    }
    cli = make_cli(
        [
            "fit",
            "--config",
            TINY,
            f"--data.train={files['train']}",
            f"--data.validation={files['dev']}",
            f"--trainer.default_root_dir={root}",
        ]
    )
    return cli, Path(cli.trainer.checkpoint_callback.best_model_path), files, root


def test_fit_learns_and_writes_a_self_contained_checkpoint(trained):
    cli, ckpt, _, _ = trained
    assert ckpt.is_file() and float(cli.trainer.checkpoint_callback.best_model_score) == 1.0
    checkpoint = torch.load(ckpt, weights_only=True)  # plain data only: no pickled objects
    record = checkpoint["textrnn"]  # the model record, public names only
    assert record["vocab"] == cli.datamodule.vocab.itos and record["format_version"] == 2
    assert (record["task"], record["architecture"]) == ("classification", "TextClassifierNet")
    assert record["label_names"] == ["negative", "positive"] and record["tokenizer"]["kind"] == "word"
    assert record["net_args"] == asdict(cli.model.net.config) and "class_path" not in record
    hparams = checkpoint["hyper_parameters"]
    assert hparams["label_names"] == ["negative", "positive"]
    assert hparams["tokenizer"] == {"kind": "word", "lowercase": True, "max_length": None}
    assert "pretrained" not in hparams and "vocab" not in hparams
    assert all(isinstance(v, (str, int, float, bool, list, dict, type(None))) for v in hparams.values())


def test_test_and_predict_reuse_the_checkpoint_vocabulary(trained, tmp_path):
    _, ckpt, files, _ = trained
    texts = tmp_path / "texts.txt"
    texts.write_text("a wonderful film\ni hated it\nzzz unknown words\n")
    out = tmp_path / "pred.tsv"
    test = _textrnn(
        "test", "--config", TINY, f"--data.test={files['dev']}", f"--ckpt_path={ckpt}", cwd=tmp_path
    )
    assert test.returncode == 0, test.stderr
    assert "test_acc" in test.stdout
    pred = _textrnn(
        "predict",
        "--config",
        TINY,
        f"--data.predict={texts}",
        f"--ckpt_path={ckpt}",
        f"--predictions={out}",
        cwd=tmp_path,
    )
    assert pred.returncode == 0, pred.stderr
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    assert [row[0] for row in lines[:2]] == ["positive", "negative"]
    assert [row[2] for row in lines] == ["a wonderful film", "i hated it", "zzz unknown words"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.tsv", "texts.txt"]  # nothing else left behind


def test_user_mistakes_get_one_line_and_no_traceback(tmp_path, tiny_tsv):
    bad_vectors = tmp_path / "bad.txt"
    bad_vectors.write_text("film 0.1 0.2 0.3\nwonderful 0.1 oops 0.3\n")
    train = f"--data.train={tiny_tsv['train']}"
    cases = {
        ("--data.train=nowhere.tsv",): "nowhere.tsv: no such file",
        (train, "--data.embeddings.source=nonsense-name"): "nonsense-name",
        (train, f"--data.embeddings.source={bad_vectors}", "--data.embeddings.dim=3"): "bad.txt line 2",
        (train, f"--data.embeddings.source={bad_vectors}"): "bad.txt line 1: vectors have 3 numbers but",
        (train, "--data.text_column=review"): "no column 'review'",
    }
    for args, message in cases.items():
        result = _textrnn(
            "fit", "--config", TINY, *args, f"--trainer.default_root_dir={tmp_path}", cwd=tmp_path
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and lines[-1].startswith("textrnn: error: ") and message in lines[-1]
        assert "Traceback" not in result.stderr
    assert not any(tmp_path.rglob("*.ckpt"))


def test_print_config_shows_the_recipe_without_linked_values(tmp_path):
    result = _textrnn("fit", "--config", str(CONFIGS[0]), "--print_config", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "class_path: textrnn.TextClassifier" in result.stdout
    assert "pretrained:" not in result.stdout and "\n    vocab_size:" not in result.stdout


def _tiny_task(task: str, tiny_tsv: dict[str, str], tmp_path: Path) -> tuple[str, list[str]]:
    """The tiny config of ``task`` (classifier or char) and the arguments naming its data."""
    if task == "classifier":
        return TINY, [f"--data.train={tiny_tsv['train']}"]
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 20)
    return str(REPO / "tests" / "assets" / "tiny_char.yaml"), [f"--data.files=[{text}]"]


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "peephole_lstm", "cifg_lstm", "gru"])
@pytest.mark.parametrize("task", ["classifier", "char"])
def test_every_equation_cell_trains_in_both_tasks_from_yaml(task, cell, tiny_tsv, tmp_path):
    """``cell:`` and ``cell_impl:`` in a YAML reach the encoder, and the training step's gradients reach it."""
    override = tmp_path / "cell.yaml"
    override.write_text(f"model:\n  init_args:\n    cell: {cell}\n    cell_impl: equations\n")
    config, data = _tiny_task(task, tiny_tsv, tmp_path)
    args = ["fit", "--config", config, "--config", str(override), *data, "--trainer.fast_dev_run=true"]
    cli = make_cli([*args, f"--trainer.default_root_dir={tmp_path}"])
    stack = cli.model.net.encoder.rnn
    assert isinstance(stack, RecurrentStack) and type(stack.cells[0]) is CELL_TYPES[cell]
    assert cli.trainer.global_step == 1 and torch.isfinite(cli.trainer.callback_metrics["train_loss"])
    adam = cli.trainer.optimizers[0].state
    for weight in stack.cells[-1].parameters():  # the top layer's every weight got a gradient
        assert adam[weight]["exp_avg"].abs().sum() > 0


@pytest.mark.parametrize("task", ["classifier", "char", "char-peephole_lstm"])
def test_bf16_mixed_precision_trains_both_tasks(task, tiny_tsv, tmp_path):
    """``precision: bf16-mixed`` runs the forward in bfloat16 where autocast allows, weights stay float32."""
    config, data = _tiny_task(task.removesuffix("-peephole_lstm"), tiny_tsv, tmp_path)
    data += ["--model.init_args.cell=peephole_lstm"] if task.endswith("peephole_lstm") else []
    args = ["fit", "--config", config, *data, "--trainer.precision=bf16-mixed", "--trainer.max_steps=3"]
    cli = make_cli([*args, "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={tmp_path}"])
    assert cli.trainer.global_step == 3 and torch.isfinite(cli.trainer.callback_metrics["train_loss"])
    assert {p.dtype for p in cli.model.parameters()} == {torch.float32}
    with cli.trainer.precision_plugin.forward_context():
        head = cli.model.net.head(torch.zeros(1, cli.model.net.head.in_features))
    assert head.dtype == torch.bfloat16


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_bfloat16_instructions_is_warned_of(
    native, tiny_tsv, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    config, data = _tiny_task("char", tiny_tsv, tmp_path)
    for precision in ("bf16-mixed", "32-true"):
        caplog.clear()
        make_cli(["--config", config, *data, f"--trainer.precision={precision}"], run=False)
        warned = [r.getMessage() for r in caplog.records if "bfloat16 instructions" in r.getMessage()]
        expected = not native and precision == "bf16-mixed"
        assert warned == (
            [
                "precision bf16-mixed on a CPU without bfloat16 instructions (AVX512-BF16): it may "
                "train slower than --trainer.precision=32-true"
            ]
            if expected
            else []
        )
