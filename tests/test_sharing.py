"""The pretrained-model folder: save_pretrained / from_pretrained round trips, the tools, bad folders."""

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest
import torch
from conftest import REPO
from safetensors.torch import load_file

from textrnn import Classifier, Generator, from_pretrained, load_classifier, load_generator, save_pretrained
from textrnn.commands import main
from textrnn.errors import UserError
from textrnn.inference.folder import read_folder, write_folder
from textrnn.inference.loading import build_net, load_model
from textrnn.inference.record import ModelRecord
from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet

pytest_plugins = ["test_cli", "test_generate"]
TEXTS = ["a wonderful film", "i hated it , dull", "", "great great great story", "zzz unseen words"]


def test_a_classifier_folder_predicts_exactly_as_its_checkpoint(trained, tmp_path):
    cli, ckpt, _, _ = trained
    folder = save_pretrained(ckpt, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "vocab.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o666 & ~umask}  # shareable, as usual
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    config = json.loads((folder / "config.json").read_text())
    assert config["task"] == "classification" and config["architecture"] == "TextClassifierNet"
    assert config["label_names"] == ["negative", "positive"] and "pretrained" not in config["net_args"]
    assert config["net_args"].items() <= dict(cli.model.hparams).items() and config["format_version"] == 2
    assert json.loads((folder / "vocab.json").read_text()) == cli.datamodule.vocab.itos
    weights = load_file(folder / "model.safetensors")
    saved = torch.load(ckpt, weights_only=True)["state_dict"]
    assert weights.keys() == {k.removeprefix("net.") for k in saved}
    assert all(torch.equal(weights[k.removeprefix("net.")], v) for k, v in saved.items())

    loaded = from_pretrained(folder, device="cpu")
    assert isinstance(loaded, Classifier) and loaded.tokenizer == cli.model.hparams.tokenizer
    expected = load_classifier(ckpt, device="cpu").predict_proba(TEXTS)
    assert torch.equal(loaded.predict_proba(TEXTS), expected)
    assert torch.equal(load_classifier(folder, device="cpu").predict_proba(TEXTS), expected)


def test_the_lightning_module_writes_the_same_folder(trained, tmp_path):
    cli, ckpt, _, _ = trained
    best = type(cli.model).load_from_checkpoint(ckpt, map_location="cpu")
    direct, via_ckpt = best.save_pretrained(tmp_path / "direct"), save_pretrained(ckpt, tmp_path / "ckpt")
    for name in ("config.json", "vocab.json"):
        assert (direct / name).read_text() == (via_ckpt / name).read_text()
    a, b = load_file(direct / "model.safetensors"), load_file(via_ckpt / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_character_folder_generates_exactly_as_its_checkpoint(char_ckpt, tmp_path):
    _, ckpt = char_ckpt
    folder = save_pretrained(ckpt, tmp_path / "char")
    loaded = from_pretrained(folder, device="cpu")
    assert isinstance(loaded, Generator)
    options = {"length": 120, "temperature": 0.9, "seed": 7, "num_samples": 3}
    expected = load_generator(ckpt, device="cpu").generate("ROMEO:", **options)
    assert loaded.generate("ROMEO:", **options) == expected


def test_tied_weights_come_back_tied_and_equal(tmp_path):
    torch.manual_seed(0)
    net = CharLMNet(CharLMConfig(12, embedding_dim=8, hidden_size=8, tie_weights=True))
    args = {"vocab_size": 12, "embedding_dim": 8, "hidden_size": 8, "tie_weights": True}
    record = ModelRecord("char_lm", "CharLMNet", args, [f"c{i}" for i in range(12)], tokenizer={"kind": "char"})
    folder = write_folder(tmp_path / "tied", record, net.state_dict())
    back = build_net(*read_folder(folder))
    assert back.head.weight is back.embedding.weight
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), net.state_dict().values()))
    assert json.loads((folder / "config.json").read_text())["net_args"] == args


def test_the_commands_take_a_folder_like_a_checkpoint(trained, char_ckpt, tmp_path):
    sentiment, chars = (
        save_pretrained(trained[1], tmp_path / "s"),
        save_pretrained(char_ckpt[1], tmp_path / "c"),
    )

    def run(module: str, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return result.stdout

    texts = TEXTS[:2]
    from_folder = run("textrnn.inference.classify", "--checkpoint", str(sentiment), *texts)
    assert from_folder == run("textrnn.inference.classify", "--checkpoint", str(trained[1]), *texts)
    args = ["--prompt", "ROMEO:", "--length", "60", "--seed", "3"]
    generated = run("textrnn.inference.generate", "--checkpoint", str(chars), *args)
    assert generated == run("textrnn.inference.generate", "--checkpoint", str(char_ckpt[1]), *args)


def test_loading_a_folder_does_not_import_lightning(trained, tmp_path):
    folder = save_pretrained(trained[1], tmp_path / "model")
    code = (
        "import sys, textrnn\n"
        f"c = textrnn.from_pretrained({str(folder)!r}, device='cpu')\n"
        "print(c.predict(['a wonderful film'])[0].label, 'lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "False"


def test_a_second_save_replaces_the_folder_and_a_foreign_folder_is_kept(trained, tmp_path):
    folder = save_pretrained(trained[1], tmp_path / "model")
    (folder / "vocab.json").write_text("[]")
    save_pretrained(trained[1], folder)  # replaces the stale folder whole
    assert len(json.loads((folder / "vocab.json").read_text())) > 2
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(UserError, match="exists and is not a textrnn model folder"):
        save_pretrained(trained[1], foreign)
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "photos"]  # no temporary folders left


def test_bad_folders_give_one_line_naming_the_file(trained, tmp_path):
    def broken(name: str, edit) -> str:
        folder = save_pretrained(trained[1], tmp_path / name)
        edit(folder)
        with pytest.raises(UserError) as err:
            load_model(folder)
        return str(err.value)

    def set_hparam(folder, **changes):
        config = json.loads((folder / "config.json").read_text())
        config["net_args"] |= changes
        (folder / "config.json").write_text(json.dumps(config))

    assert "vocab.json: missing" in broken("novocab", lambda f: (f / "vocab.json").unlink())
    assert "config.json: not valid JSON" in broken("json", lambda f: (f / "config.json").write_text("{"))
    assert "model.safetensors: not readable" in broken(
        "weights", lambda f: (f / "model.safetensors").write_bytes(b"\x10\x00")
    )
    assert "do not fit" in broken("shape", lambda f: set_hparam(f, hidden_size=7))
    with pytest.raises(UserError, match="a classification model, not char_lm"):
        load_generator(save_pretrained(trained[1], tmp_path / "kind"))


def test_textrnn_export_writes_the_folder_too(trained, tmp_path, capsys):
    main(["export", "--checkpoint", str(trained[1]), "--format", "pretrained", "--out", str(tmp_path / "m")])
    assert capsys.readouterr().out.strip() == f"pretrained: {trained[1]} -> {tmp_path / 'm'}"
    expected = load_classifier(trained[1], device="cpu").predict_proba(TEXTS)
    assert torch.equal(from_pretrained(tmp_path / "m", device="cpu").predict_proba(TEXTS), expected)


def test_fixed_rows_named_by_their_vectors_source_are_rebuilt_exactly_and_not_stored(tmp_path):
    words = ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"]
    vectors = torch.randn(len(words), 6)
    glove = tmp_path / "glove.txt"
    glove.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in row)}\n" for w, row in zip(words, vectors)))
    rows = torch.tensor([[float(f"{x:.6f}") for x in row] for row in vectors[3:]])  # as the file holds them
    net = TextClassifierNet(
        TextClassifierConfig(vocab_size=10, num_classes=2, embedding_dim=6, trainable_rows=5)
    )
    net.embedding.fixed.copy_(rows)
    vocab = ["<pad>", "<unk>", *words]
    record = ModelRecord("classification", "TextClassifierNet", asdict(net.config), vocab, ["a", "b"])
    source = {"embedding.fixed": {"source": str(glove), "first_token": 5}}
    folder = write_folder(tmp_path / "m", record, net.state_dict(), rebuilt=source)
    assert "embedding.fixed" not in load_file(folder / "model.safetensors")
    _, weights = read_folder(folder)
    assert torch.equal(weights["embedding.fixed"], net.embedding.fixed)
    config = json.loads((folder / "config.json").read_text())
    config["rebuilt_from_vectors"]["embedding.fixed"] = {"source": str(glove)}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        UserError, match="rebuilt_from_vectors.embedding.fixed needs a source and a first_token"
    ):
        read_folder(folder)
