"""Loading a classification checkpoint from Python and the shell, with no training data at hand."""

import subprocess
import sys

import pytest
import torch
from conftest import TINY_ROWS, write_tsv
from test_cli import TINY

from textrnn import load_classifier
from textrnn.errors import UserError
from textrnn.training.cli import make_cli

pytest_plugins = ["test_cli"]


def test_predictions_match_the_trained_module(trained):
    cli, ckpt, _, _ = trained
    texts = ["a wonderful film", "i hated it , dull", "", "great great great story"]
    classifier = load_classifier(ckpt, device="cpu")
    preds = classifier.predict(texts)
    model = type(cli.model).load_from_checkpoint(ckpt, map_location="cpu").eval()
    for text, pred in zip(texts, preds):
        ids = torch.tensor([classifier.encode(text)])
        # both apply the temperature fitted at the checkpoint's validation run
        probs = torch.softmax(model(ids, torch.tensor([ids.shape[1]])) / model.calibration_temperature, -1)[0]
        assert pred.label_id == int(probs.argmax()) and pred.label == ["negative", "positive"][pred.label_id]
        assert pred.probability == pytest.approx(float(probs.max()), abs=1e-6)
    assert [p.label for p in preds[:2]] == ["positive", "negative"]
    assert model.calibration_temperature == classifier.temperature != 1.0


def test_batching_does_not_change_predictions(trained):
    classifier = load_classifier(trained[1], device="cpu")
    texts = [" ".join(["great", "dull", "film"][i % 3] for i in range(n)) for n in range(1, 40)]
    torch.testing.assert_close(
        classifier.predict_proba(texts, batch_size=4), classifier.predict_proba(texts, batch_size=1000)
    )


def test_fresh_process_without_data_files(trained, tmp_path):
    _, ckpt, files, _ = trained
    code = (
        "from textrnn import load_classifier; "
        f"p = load_classifier({str(ckpt)!r}).predict(['a wonderful film']); print(p[0].label, p[0].label_id)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["positive", "1"]


def test_classify_command_reads_arguments_and_stdin(trained):
    ckpt = str(trained[1])
    cmd = [sys.executable, "-m", "textrnn.inference.classify", "--checkpoint", ckpt]
    args = subprocess.run([*cmd, "i hated it", "a wonderful film"], capture_output=True, text=True)
    stdin = subprocess.run(cmd, input="i hated it\na wonderful film\n", capture_output=True, text=True)
    assert args.stdout == stdin.stdout
    assert [line.split("\t")[0] for line in args.stdout.splitlines()] == ["negative", "positive"]


def test_bad_checkpoints_are_refused_in_one_line(trained, tmp_path):
    ckpt = trained[1]
    truncated = tmp_path / "cut.ckpt"
    truncated.write_bytes(ckpt.read_bytes()[:5000])
    other = tmp_path / "other.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["textrnn"]["task"] = "char_lm"
    torch.save(checkpoint, other)
    cases = {
        tmp_path / "none.ckpt": "no such checkpoint file",
        truncated: "not a readable checkpoint",
        other: "a char_lm model, not classification; use load_generator",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            load_classifier(path)
        result = subprocess.run(
            [sys.executable, "-m", "textrnn.inference.classify", "--checkpoint", str(path), "x"],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_words_added_from_the_vectors_source_survive_the_checkpoint(tiny_tsv, tmp_path):
    """extend_vocab rows stay fixed in training and come back identical through load_classifier."""
    from conftest import REPO

    from textrnn.training.cli import make_cli

    glove = REPO / "tests" / "assets" / "tiny_glove.txt"
    cli = make_cli(
        [
            "fit",
            "--config",
            str(REPO / "tests" / "assets" / "tiny_classifier.yaml"),
            f"--data.train={tiny_tsv['train']}",
            f"--data.embeddings.source={glove}",
            "--data.embeddings.extend_vocab=20",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=1",
        ]
    )
    vocab = cli.datamodule.vocab
    k = cli.datamodule.trainable_rows
    assert vocab.itos[k:] == ["superb", "dreadful", "masterpiece", "awful", "brilliant"]  # not in train
    classifier = load_classifier(cli.trainer.checkpoint_callback.best_model_path, device="cpu")
    assert classifier.vocab == vocab
    superb = vocab.stoi["superb"]
    torch.testing.assert_close(classifier.net.embedding.weight[superb], cli.datamodule.embedding_matrix[superb])
    assert classifier.predict(["a superb masterpiece"])[0].label in ("negative", "positive")


def test_test_reports_each_class_f1(trained, tmp_path):
    """With labels the model gets partly wrong, each class's F1 equals the one computed from its predictions."""
    _, ckpt, _, _ = trained
    rows = [(text, 1 - label if i in (0, 5) else label) for i, (text, label) in enumerate(TINY_ROWS)]
    test_file = write_tsv(tmp_path / "test.tsv", rows)
    args = [
        "test",
        "--config",
        TINY,
        f"--data.test={test_file}",
        f"--ckpt_path={ckpt}",
        "--trainer.logger=false",
    ]
    metrics = make_cli(args).trainer.callback_metrics
    predicted = [p.label_id for p in load_classifier(ckpt, device="cpu").predict([t for t, _ in rows])]
    for label_id, name in enumerate(["negative", "positive"]):
        pairs = list(zip(predicted, [y for _, y in rows]))
        tp = sum(p == y == label_id for p, y in pairs)
        f1 = 2 * tp / (sum(p == label_id for p, _ in pairs) + sum(y == label_id for _, y in pairs))
        assert float(metrics[f"test_f1_{name}"]) == pytest.approx(f1, abs=1e-6)
    assert float(metrics["test_f1"]) == pytest.approx(
        (float(metrics["test_f1_negative"]) + float(metrics["test_f1_positive"])) / 2, abs=1e-6
    )
