import torch

from textrnn.nn.embedding import WordEmbedding
from textrnn.training.text_data import TextClassificationData
from textrnn.vectors.embeddings import Embeddings


def test_rows_after_the_training_vocabulary_are_fixed_and_free():
    pretrained = torch.randn(10, 4)
    pretrained[0] = 0
    emb = WordEmbedding(10, 4, pretrained, trainable_rows=6)
    ids = torch.tensor([[0, 3, 7, 9], [5, 6, 1, 0]])
    torch.testing.assert_close(emb(ids), pretrained[ids])  # the same lookup as one full matrix
    torch.testing.assert_close(emb.weight, pretrained)
    assert [name for name, _ in emb.named_parameters()] == ["trained.weight"]  # no optimiser cost
    emb(ids).sum().backward()
    grad = emb.trained.weight.grad
    assert grad[[3, 5, 1]].abs().sum() > 0 and grad[[2, 4]].abs().sum() == 0 and grad[0].abs().sum() == 0


def test_the_static_copy_joins_each_words_initial_vector_and_never_trains():
    pretrained = torch.randn(10, 4)
    pretrained[0] = 0
    emb = WordEmbedding(10, 4, pretrained, trainable_rows=6, static_copy=True)
    ids = torch.tensor([[0, 3, 7, 9], [5, 6, 1, 0]])
    torch.testing.assert_close(emb(ids), torch.cat([pretrained[ids], pretrained[ids]], dim=-1))
    assert emb.output_size == 8 and [name for name, _ in emb.named_parameters()] == ["trained.weight"]
    optimiser = torch.optim.SGD(emb.parameters(), lr=1.0)
    emb(ids).pow(2).sum().backward()
    optimiser.step()
    out = emb(ids).detach()
    torch.testing.assert_close(out[..., 4:], pretrained[ids])  # the static half: the initial rows, still
    assert not torch.equal(out[0, 1, :4], pretrained[3]) and torch.equal(out[0, 2, :4], pretrained[7])
    assert torch.equal(out[0, 0], torch.zeros(8))  # <pad> stays a zero row in both halves


def test_freeze_keeps_every_row_fixed():
    emb = WordEmbedding(5, 3, torch.randn(5, 3), freeze=True)
    assert not any(p.requires_grad for p in emb.parameters())


def test_vocab_extension_appends_source_words_after_the_training_words(tiny_tsv, tmp_path):
    glove = tmp_path / "glove.txt"
    words = ["the", "film", "superb", "dreadful", "a", "masterpiece"]
    glove.write_text("".join(f"{w} {i}.0 {i}.5\n" for i, w in enumerate(words)))
    spec = Embeddings(source=str(glove), extend_vocab=4, cache_dir=str(tmp_path))
    data = TextClassificationData(train=tiny_tsv["train"], text_column="sentence", embeddings=spec)
    data.setup("fit")
    # the source's first 4 words are the, film, superb, dreadful; "the" and "film" are training words
    assert data.vocab.itos[data.trainable_rows :] == ["superb", "dreadful"]
    assert {"the", "film"} <= set(data.vocab.itos[: data.trainable_rows])
    torch.testing.assert_close(data.embedding_matrix[data.vocab.stoi["superb"]], torch.tensor([2.0, 2.5]))
