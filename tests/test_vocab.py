import json
from collections import Counter

import pytest

from textrnn.text.vocab import PAD, UNK, Vocab


def test_specials_order_and_ties_are_deterministic():
    vocab = Vocab.build(Counter({"b": 2, "a": 2, "c": 5, "d": 1}))
    assert vocab.itos == [PAD, UNK, "c", "a", "b", "d"]
    assert vocab.stoi[PAD] == Vocab.pad_id == 0 and vocab.stoi[UNK] == Vocab.unk_id == 1


def test_min_freq_and_max_size():
    counts = Counter({"a": 5, "b": 3, "c": 1})
    assert Vocab.build(counts, min_freq=2).itos == [PAD, UNK, "a", "b"]
    assert Vocab.build(counts, max_size=3).itos == [PAD, UNK, "a"]


def test_encode_decode_and_unknowns():
    vocab = Vocab.from_texts([["the", "cat"], ["the", "dog"]])
    ids = vocab.encode(["the", "bird", "dog"])
    assert ids == [2, 1, vocab.stoi["dog"]]
    assert vocab.decode(ids + [0, 0]) == ["the", UNK, "dog"]


def test_json_round_trip():
    vocab = Vocab.from_texts([["x", "y", "y", "é", "日本"]])
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and again.stoi == vocab.stoi


def test_malformed_token_lists_are_refused():
    with pytest.raises(ValueError, match="starts with"):
        Vocab(["a", "b"])
    with pytest.raises(ValueError, match="repeat"):
        Vocab([PAD, UNK, "a", "a"])


def test_extend_appends_only_new_tokens_in_order():
    vocab = Vocab.from_texts([["a", "b"]])
    assert vocab.extend(["b", "c", "a", "d", "c"]).itos == [*vocab.itos, "c", "d"]
