import torch

from textrnn.text.batching import BucketBatchSampler, EncodedTexts, pad_batch


def test_encoded_texts_round_trip():
    seqs = [[5, 6, 7], [8], [9, 10]]
    data = EncodedTexts(seqs, [1, 0, 1])
    assert [data[i][1].tolist() for i in range(3)] == seqs
    assert [data[i][2] for i in range(3)] == [1, 0, 1]


def test_pad_batch_pads_to_the_longest_of_the_batch_only():
    data = EncodedTexts([[5, 6, 7], [8], [9, 10]], [1, 0, 1])
    batch = pad_batch([data[1], data[2]])
    assert batch["ids"].tolist() == [[8, 0], [9, 10]]
    assert batch["lengths"].tolist() == [1, 2] and batch["index"].tolist() == [1, 2]


def _lengths(n=1000, seed=0):
    return torch.randint(1, 60, (n,), generator=torch.Generator().manual_seed(seed))


def test_buckets_cover_every_text_once_and_pad_little():
    lengths = _lengths()
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert len(batches) == len(sampler) == 32
    padded = sum(len(b) * lengths[b].max().item() for b in batches)
    random_batches = torch.randperm(len(lengths)).split(32)
    padded_random = sum(len(b) * lengths[b].max().item() for b in random_batches)
    assert padded < 0.75 * padded_random


def test_epochs_reshuffle_deterministically():
    sampler = BucketBatchSampler(_lengths(), batch_size=32, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert first != second and list(sampler) == first


def test_evaluation_order_is_sorted_by_length():
    lengths = _lengths(100)
    batches = list(BucketBatchSampler(lengths, batch_size=10, shuffle=False))
    flat = [i for b in batches for i in b]
    assert lengths[flat].tolist() == sorted(lengths.tolist())


def test_replicas_get_disjoint_equal_shares():
    lengths = _lengths(1000)
    shares = [list(BucketBatchSampler(lengths, 32, seed=1, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1])
    assert not {i for b in shares[0] for i in b} & {i for b in shares[1] for i in b}


def test_batch_fetch_equals_item_by_item():
    data = EncodedTexts([[5, 6, 7], [8], [9, 10], [11, 12, 13, 14]], [1, 0, 1, 0])
    items = data.__getitems__([3, 0, 2])
    expected = [(3, [11, 12, 13, 14], 0), (0, [5, 6, 7], 1), (2, [9, 10], 1)]
    assert [(i, s.tolist(), y) for i, s, y in items] == expected
    unlabelled = EncodedTexts([[5, 6], [7]])
    assert [(i, s.tolist(), y) for i, s, y in unlabelled.__getitems__([1])] == [(1, [7], -1)]
