"""The task registry: a third task, defined here, trains, saves, loads and exports through the same paths."""

from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from textrnn import ModelRecord, Task, from_pretrained, register_task, save_pretrained
from textrnn.errors import UserError
from textrnn.inference.loading import build_net, load_model, read_model
from textrnn.inference.registry import TASKS, get_task
from textrnn.text.vocab import Vocab
from textrnn.tools.export import export
from textrnn.tools.export_graphs import Graph
from textrnn.training.module import TextTask

VOCAB = ["<pad>", "<unk>", "good", "bad", "film"]


@dataclass
class BagConfig:
    """A bag of words."""

    vocab_size: int
    num_classes: int = 2
    dim: int = 4


class BagNet(nn.Module):
    """The mean of the word vectors, then a linear layer."""

    config_class = BagConfig

    def __init__(self, config: BagConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.dim)
        self.head = nn.Linear(config.dim, config.num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids).mean(dim=1))  # (B, C)


class BagModule(TextTask):
    task, monitor, monitor_mode = "bag", "train_loss", "min"

    def __init__(self, vocab: list[str] | None = None, **net_args):
        super().__init__(torch.optim.Adam, None, vocab)
        self.net = BagNet(BagConfig(**net_args))
        self.save_hyperparameters(ignore=["vocab"])

    def training_step(self, batch, batch_idx):
        ids, labels = batch
        return F.cross_entropy(self.net(ids), labels)


class BagRuntime:
    def __init__(self, net: BagNet, vocab: Vocab):
        self.net, self.vocab = net, vocab

    @classmethod
    def from_model(cls, net, record, device=None):
        return cls(net, Vocab(record.vocab))

    @torch.inference_mode()
    def scores(self, text: str) -> list[float]:
        return self.net(torch.tensor([self.vocab.encode(text.split())])).tolist()[0]


def bag_graph(net: BagNet) -> Graph:
    return Graph(net.eval(), (torch.tensor([[2, 3, 4]]),), ["ids"], ["logits"])


@pytest.fixture
def bag_task(monkeypatch):
    monkeypatch.setitem(TASKS, "bag", TASKS.get("bag"))  # restored (removed) after the test
    return register_task(
        Task("bag", BagNet, BagModule, None, BagRuntime, bag_graph, use="from_pretrained"),
    )


@pytest.fixture
def bag_checkpoint(bag_task, tmp_path):
    torch.manual_seed(0)
    ids = torch.tensor([[2, 4, 4], [3, 4, 4], [2, 2, 4], [3, 3, 4]])
    loader = DataLoader(TensorDataset(ids, torch.tensor([1, 0, 1, 0])), batch_size=2)
    module = BagModule(vocab=VOCAB, vocab_size=len(VOCAB))
    trainer = pl.Trainer(max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, loader)
    trainer.save_checkpoint(tmp_path / "bag.ckpt")
    return module, tmp_path / "bag.ckpt"


def test_a_third_task_saves_and_loads_through_the_same_paths(bag_checkpoint, tmp_path):
    module, ckpt = bag_checkpoint
    checkpoint = torch.load(ckpt, weights_only=True)
    assert (
        checkpoint["textrnn"]
        == ModelRecord("bag", "BagNet", {"vocab_size": 5, "num_classes": 2, "dim": 4}, VOCAB).to_dict()
    )
    expected = module.net.eval()(torch.tensor([[2, 4]])).tolist()[0]
    net, record = load_model(ckpt)
    assert isinstance(net, BagNet) and record.task == "bag" and record.vocab == VOCAB
    assert from_pretrained(ckpt).scores("good film") == expected
    folder = save_pretrained(ckpt, tmp_path / "bag")
    assert read_model(folder)[0] == record
    assert from_pretrained(folder).scores("good film") == expected


def test_a_third_task_exports_to_onnx(bag_checkpoint, tmp_path):
    module, ckpt = bag_checkpoint
    out = export(ckpt, "onnx", tmp_path / "bag.onnx")
    ids = np.array([[2, 3, 4, 4, 2]])
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(got, module.net.eval()(torch.from_numpy(ids)).detach().numpy(), atol=1e-6)


def test_an_unknown_task_is_one_line_naming_the_tasks(tmp_path):
    with pytest.raises(
        UserError, match=r"model.ckpt: unknown task 'poetry'; expected one of char_lm, classification"
    ):
        get_task("poetry", "model.ckpt")
    record = ModelRecord("classification", "TextClassifierNet", {"vocab_size": 5}, VOCAB).to_dict()
    with pytest.raises(UserError, match="format version 3 needs a newer textrnn"):
        ModelRecord.from_dict({**record, "format_version": 3}, "x.ckpt")
    with pytest.raises(UserError, match="x.ckpt: the model record has no net_args"):
        ModelRecord.from_dict({k: v for k, v in record.items() if k != "net_args"}, "x.ckpt")


def test_built_in_tasks_name_public_classes():
    for name, cls in [("classification", "TextClassifier"), ("char_lm", "CharLanguageModel")]:
        task = get_task(name)
        assert task.get("module").__name__ == cls and task.get("net").config_class.__name__.endswith("Config")
        assert task.class_path("module").endswith(cls)


@pytest.mark.parametrize(
    "architecture, net_args, message",
    [
        ("CharLMNet", {"vocab_size": 5, "bogus": 1}, "unexpected keyword argument 'bogus'"),
        ("CharLMNet", {}, "missing 1 required positional argument: 'vocab_size'"),
        ("FooNet", {"vocab_size": 5}, "a char_lm model has no architecture 'FooNet'"),
    ],
)
def test_a_record_of_another_textrnn_is_one_line(architecture, net_args, message):
    with pytest.raises(UserError, match=message):
        build_net(ModelRecord("char_lm", architecture, net_args, VOCAB))
