"""Character features of words: read from each vocabulary word's spelling, saved with the weights."""

import torch

from textrnn.inference.loading import load_model, save_pretrained
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet
from textrnn.nn.spelling import CharWordFeatures, spell, spelling_table
from textrnn.training.classifier import TextClassifier

VOCAB = ["<pad>", "<unk>", "good", "bad", "unwatchable", "café", "antidisestablishmentarianism"]


def test_a_spelling_is_the_words_bytes_and_a_long_word_keeps_both_ends():
    assert spell("good") == [103, 111, 111, 100]
    assert spell("café") == [99, 97, 102, 195, 169]  # UTF-8: é is two bytes
    assert bytes(spell("antidisestablishmentarianism")) == b"antidisest" + b"ntarianism"
    assert spell("<unk>") == spell("<pad>") == []
    table = spelling_table(VOCAB)
    assert table.shape == (7, 20) and table.dtype == torch.uint8
    assert table[3].tolist() == [98, 97, 100] + [0] * 17 and table[:2].sum() == 0


def reference(features: CharWordFeatures, word: str) -> torch.Tensor:
    """The features of ``word`` computed window by window: max over positions of ReLU(W . window + b)."""
    x = torch.nn.functional.pad(features.chars(torch.tensor(spell(word))), (0, 0, 1, 1))  # (L + 2, C)
    w, b = features.conv.weight, features.conv.bias  # (F, C, 3), (F,)
    windows = [torch.relu(torch.einsum("fck,kc->f", w, x[i : i + 3]) + b) for i in range(len(spell(word)))]
    return torch.stack(windows).amax(dim=0)


def test_features_are_the_max_over_the_words_windows_and_depend_only_on_the_spelling():
    torch.manual_seed(0)
    features = CharWordFeatures(len(VOCAB), 6, VOCAB)
    out = features(torch.tensor([[2, 5, 0], [6, 4, 1]]))  # (B, T, F)
    assert out.shape == (2, 3, 6)
    for (row, col), word in zip([(0, 0), (0, 1), (1, 0), (1, 1)], ["good", "café", VOCAB[6], "unwatchable"]):
        torch.testing.assert_close(out[row, col], reference(features, word))
    assert out[0, 2].abs().sum() == 0 and out[1, 2].abs().sum() == 0  # <pad> and <unk>: no spelling
    reordered = CharWordFeatures(3, 6, ["<pad>", "<unk>", "unwatchable"])  # another vocabulary, same weights
    reordered.load_state_dict({**features.state_dict(), "spellings": reordered.spellings})
    torch.testing.assert_close(reordered(torch.tensor([2])), out[1, 1:2])


def test_the_classifier_joins_the_features_to_the_word_vectors_and_trains_them():
    torch.manual_seed(0)
    module = TextClassifier(vocab=VOCAB, vocab_size=7, num_classes=2, embedding_dim=4, char_features=3)
    module.log = lambda *args, **kwargs: None  # no Trainer here
    net = module.net
    assert net.encoder.rnn.input_size == 4 + 3
    ids = torch.tensor([[4, 2, 3], [5, 6, 0]])
    net.eval()
    vectors = net.embed(ids)
    torch.testing.assert_close(vectors, torch.cat([net.embedding(ids), net.spelling(ids)], dim=-1))
    module.train()
    batch = {"ids": ids, "lengths": torch.tensor([3, 2]), "labels": torch.tensor([0, 1])}
    module.training_step(batch, 0).backward()
    assert net.spelling.conv.weight.grad.abs().sum() > 0 and net.spelling.chars.weight.grad[0].abs().sum() == 0


def test_a_checkpoint_and_a_model_folder_carry_the_spellings(tmp_path):
    from test_export import save_checkpoint, words

    torch.manual_seed(0)
    config = TextClassifierConfig(vocab_size=30, num_classes=2, embedding_dim=4, hidden_size=5, char_features=4)
    net = TextClassifierNet(config, vocab=words(30)).eval()
    ckpt = save_checkpoint(net, "classification", tmp_path / "c.ckpt")
    ids, lengths = torch.tensor([[3, 29, 12], [7, 8, 0]]), torch.tensor([3, 2])
    for source in (ckpt, save_pretrained(ckpt, tmp_path / "folder")):
        loaded, _ = load_model(source)  # built without the vocabulary: the table comes with the weights
        assert torch.equal(loaded.spelling.spellings, spelling_table(words(30)))
        with torch.no_grad():
            torch.testing.assert_close(loaded(ids, lengths), net(ids, lengths), atol=0, rtol=0)
