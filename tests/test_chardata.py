import torch

from textrnn.text.streams import CharStreams
from textrnn.text.vocab import Vocab
from textrnn.training.char_data import CharLMData


def test_each_row_continues_where_it_ended_in_the_previous_batch():
    ids = torch.arange(1000)
    batches = list(CharStreams(ids, batch_size=4, seq_len=7))
    stream_len = 999 // 4
    assert len(batches) == len(CharStreams(ids, 4, 7)) == -(-stream_len // 7)
    for (x0, y0), (x1, _) in zip(batches, batches[1:]):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row i picks up right after its last character
        assert torch.equal(y0, x0 + 1)  # targets are the next characters
    rows = torch.cat([x for x, _ in batches], dim=1)  # (B, L): each row is one contiguous stretch
    assert torch.equal(rows, ids[: 4 * stream_len].view(4, stream_len))


def test_contiguous_parts_and_a_vocabulary_from_train_only(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("aaaabbbbcc" * 8 + "xyz" + "ab")
    data = CharLMData(files=[str(path)], val_fraction=0.05, test_fraction=0.0)
    data.setup("fit")
    # 85 characters: the first 81 train (80 of a/b/c, then "x"), the last 4 ("yzab") validate
    assert data.vocab.itos[2:] == ["a", "b", "c", "x"] and data.tokenizer == {"kind": "char"}
    assert len(data.parts["train"]) == 81
    unk, a, b = Vocab.unk_id, data.vocab.stoi["a"], data.vocab.stoi["b"]
    assert data.parts["validation"].tolist() == [unk, unk, a, b]
