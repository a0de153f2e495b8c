"""A classifier started from another: encoder, pooling and shared words' vectors copied, the head left fresh."""

import pytest
import torch

from textrnn.errors import UserError
from textrnn.inference.loading import load_model
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet
from textrnn.nn.spelling import spelling_table
from textrnn.training.warm_start import warm_start

pytest_plugins = ["test_cli"]


def new_net(source_net, vocab_size: int, num_classes: int = 3, trainable_rows: int | None = None):
    """A net of the source's architecture for another vocabulary and another set of classes."""
    args = {**vars(source_net.config), "vocab_size": vocab_size, "num_classes": num_classes}
    return TextClassifierNet(TextClassifierConfig(**{**args, "trainable_rows": trainable_rows}))


def test_the_encoder_pooling_and_shared_words_come_from_the_source(trained):
    _, ckpt, _, _ = trained
    source, record = load_model(ckpt)
    vocab = ["<pad>", "<unk>", "zebra", "film", "quokka", "wonderful", "dull"]  # 4 words the source knows
    torch.manual_seed(0)
    net = new_net(source, len(vocab), trainable_rows=5)  # rows 5 and 6 are fixed rows
    before = net.embedding.weight.clone()
    head = net.head.weight.clone()
    assert warm_start(net, vocab, str(ckpt)) == 4  # <unk>, film, wonderful, dull
    for part in ("encoder", "pooling"):
        mine, theirs = getattr(net, part).state_dict(), getattr(source, part).state_dict()
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    rows = source.embedding.weight
    for i, token in enumerate(vocab):
        expected = rows[record.vocab.index(token)] if token in record.vocab and i > 0 else before[i]
        assert torch.equal(net.embedding.weight[i], expected), token
    assert torch.equal(net.head.weight, head)  # the classes differ: the head starts afresh


def test_another_architecture_is_refused(trained):
    _, ckpt, _, _ = trained
    source, _ = load_model(ckpt)
    args = {**vars(source.config), "hidden_size": source.config.hidden_size + 1}
    with pytest.raises(UserError, match="its encoder is not shaped like this model's encoder"):
        warm_start(TextClassifierNet(TextClassifierConfig(**args)), ["<pad>", "<unk>"], str(ckpt))
    with pytest.raises(UserError, match="a char_lm model, not classification"):
        warm_start(new_net(source, 2), ["<pad>", "<unk>"], "shakespeare-char")


def test_the_character_cnn_comes_along_and_the_spellings_stay_this_vocabularys(tmp_path):
    from test_export import save_checkpoint, words

    torch.manual_seed(0)
    args = dict(vocab_size=6, num_classes=2, embedding_dim=4, hidden_size=5, char_features=3)
    donor = TextClassifierNet(TextClassifierConfig(**args), vocab=words(6))
    ckpt = save_checkpoint(donor, "classification", tmp_path / "donor.ckpt")
    vocab = ["<pad>", "<unk>", "w3", "unseen"]
    net = TextClassifierNet(TextClassifierConfig(**{**args, "vocab_size": 4, "num_classes": 3}), vocab=vocab)
    assert warm_start(net, vocab, ckpt) == 2  # <unk>, w3
    for part in ("chars", "conv"):
        mine, theirs = getattr(net.spelling, part).state_dict(), getattr(donor.spelling, part).state_dict()
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    assert torch.equal(net.spelling.spellings, spelling_table(vocab))
