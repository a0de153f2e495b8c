"""Hostile text: property-based tests over arbitrary Unicode for the tokenizer, the vocabulary,
batching and generation prompts (no exception, stable round trips, consistent lengths)."""

from __future__ import annotations

import json
import logging
import unicodedata
from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from textrnn.errors import UserError
from textrnn.inference.generate import Generator
from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.text.batching import BucketBatchSampler, EncodedTexts, pad_batch
from textrnn.text.tokenize import _HTML_BREAK_RE, char_tokenize, word_tokenize
from textrnn.text.vocab import PAD, UNK, Vocab

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# hostile pieces that uniform st.text() rarely draws: contractions, abbreviations, HTML breaks,
# combining marks, right-to-left text, zero-width characters, NUL, odd whitespace, case-changing letters
PIECES = [
    "don't",
    "can't",
    "n't",
    "it's",
    "'s",
    "'re",
    "u.s.",
    "3.5",
    "well-made",
    "rock'n'roll",
    "...",
    "--",
    "<br />",
    "<BR>",
    "< br/ >",
    "<br",
    "e\u0301",
    "\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u202e",
    "\ufeff",
    "\x00",
    "\t",
    "\n",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\u0130",
    "\u212a",
    "\u017f",
    "\u00df",
    "\u1e9e",
    "\u01c5",
    "_",
    "'",
    ".",
    "-",
    "<",
    ">",
    "/",
]
hostile_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=12).map("".join),
    st.lists(st.sampled_from(PIECES + [" ", "a", "n", "t", "s", "b", "r"]), max_size=20).map("".join),
)


def _findall_in_order(haystack: str, tokens: list[str]) -> bool:
    pos = 0
    for tok in tokens:
        found = haystack.find(tok, pos)
        if found < 0:
            return False
        pos = found + len(tok)
    return True


# -- tokenizer ---------------------------------------------------------------------------------------


@FAST
@given(hostile_text, st.booleans())
@example("a" * 20_000 + "'", True)  # a very long word before an apostrophe
@example("\u0130stanbul don't", True)  # lower() lengthens: İ -> i + combining dot
def test_word_tokenize_covers_every_non_space_character_in_order(text, lowercase):
    tokens = word_tokenize(text, lowercase)
    assert isinstance(tokens, list)
    assert all(isinstance(t, str) and t for t in tokens)
    assert not any(c.isspace() for t in tokens for c in t)
    # the text the regex sees: breaks become spaces, then (maybe) lowercased, then NFC
    seen = _HTML_BREAK_RE.sub(" ", text)
    seen = unicodedata.normalize("NFC", seen.lower() if lowercase else seen)
    assert _findall_in_order(seen, tokens)
    # nothing but whitespace is dropped
    assert "".join(tokens) == "".join(seen.split())
    if not _HTML_BREAK_RE.search(text):
        base = unicodedata.normalize("NFC", text.lower() if lowercase else text)
        assert "".join(tokens) == "".join(base.split())


@FAST
@given(hostile_text, st.booleans())
@example("<BR<BR>>", False)
def test_word_tokenize_is_idempotent_on_its_own_output(text, lowercase):
    tokens = word_tokenize(text, lowercase)
    joined = " ".join(tokens)
    if _HTML_BREAK_RE.search(joined):
        # not a property there: "<br<br>>" holds one break, and removing it leaves "<br >", whose
        # tokens "<", "br", ">" joined by spaces make a break of their own (a break is judged in the
        # text as given, in one pass)
        assert word_tokenize(joined, lowercase) != tokens
    else:
        assert word_tokenize(joined, lowercase) == tokens
    if lowercase:
        assert all(t == t.lower() for t in tokens)


@FAST
@given(hostile_text, st.booleans())
@example("cafe\u0301 nai\u0308ve", True)
def test_word_tokenize_reads_composed_and_decomposed_text_alike(text, lowercase):
    tokens = word_tokenize(text, lowercase)
    for form in ("NFC", "NFD"):
        assert word_tokenize(unicodedata.normalize(form, text), lowercase) == tokens
    assert all(unicodedata.is_normalized("NFC", t) for t in tokens)


def test_decomposed_accents_stay_in_their_word():
    # regression: combining marks are not \w, so NFD text was torn apart: "cafe", "\u0301", "nai", ...
    nfd = unicodedata.normalize("NFD", "Café naïve")
    assert word_tokenize(nfd) == ["café", "naïve"]
    assert word_tokenize(nfd, lowercase=False) == ["Café", "naïve"]


@FAST
@given(hostile_text)
def test_word_tokenize_of_whitespace_only_text_is_empty(text):
    blank = "".join(c for c in text if c.isspace())
    assert word_tokenize(blank) == []
    assert word_tokenize(f"{blank}<br />{blank}<BR>") == []


@FAST
@given(hostile_text)
def test_char_tokenize_gives_back_the_text(text):
    chars = char_tokenize(text)
    assert "".join(chars) == text
    assert len(chars) == len(text)
    assert all(len(c) == 1 for c in chars)


# -- vocabulary --------------------------------------------------------------------------------------

token = st.text(min_size=1, max_size=8)
token_lists = st.lists(st.lists(token, max_size=10), max_size=8)


@FAST
@given(token_lists, st.lists(token, max_size=20), st.integers(1, 3), st.none() | st.integers(0, 12))
def test_vocab_encode_decode_round_trip(texts, probe, min_freq, max_size):
    vocab = Vocab.from_texts(texts, min_freq=min_freq, max_size=max_size)
    assert vocab.itos[:2] == [PAD, UNK]
    assert len(set(vocab.itos)) == len(vocab)
    if max_size is not None:
        assert len(vocab) <= max(max_size, 2)
    tokens = [t for t in [*probe, *(t for text in texts for t in text)] if t not in (PAD, UNK)]
    ids = vocab.encode(tokens)
    assert len(ids) == len(tokens)
    assert all(isinstance(i, int) and 0 <= i < len(vocab) for i in ids)
    assert Vocab.pad_id not in ids  # only the <pad> token itself maps to padding
    decoded = vocab.decode(ids)
    assert decoded == [t if t in vocab else UNK for t in tokens]
    assert vocab.encode(decoded) == ids  # encode . decode . encode == encode
    assert vocab.decode(vocab.encode(decoded)) == decoded


@FAST
@given(token_lists)
def test_vocab_from_texts_keeps_every_frequent_token(texts):
    vocab = Vocab.from_texts(texts)
    counts = Counter(t for text in texts for t in text)
    assert set(vocab.itos[2:]) == set(counts) - {PAD, UNK}
    assert [counts[t] for t in vocab.itos[2:]] == sorted((counts[t] for t in vocab.itos[2:]), reverse=True)


@FAST
@given(st.lists(st.text(min_size=1), max_size=30, unique=True))
def test_vocab_dict_and_json_round_trip(tokens):
    vocab = Vocab([PAD, UNK, *(t for t in tokens if t not in (PAD, UNK))])
    for again in (
        Vocab.from_dict(vocab.to_dict()),
        Vocab.from_dict(json.loads(json.dumps(vocab.to_dict()))),
        Vocab.from_dict(json.loads(json.dumps(vocab.to_dict(), ensure_ascii=False))),
    ):
        assert again == vocab
        assert again.itos == vocab.itos and again.stoi == vocab.stoi
        assert again.encode(vocab.itos) == list(range(len(vocab)))


@FAST
@given(hostile_text, st.booleans())
def test_vocab_over_word_and_char_tokens(text, lowercase):
    for tokens in (word_tokenize(text, lowercase), char_tokenize(text)):
        vocab = Vocab.from_texts([tokens])
        ids = vocab.encode(tokens)
        assert all(2 <= i < len(vocab) for i in ids)  # the tokenizers never produce <pad> or <unk>
        assert vocab.decode(ids) == tokens


# -- batching ----------------------------------------------------------------------------------------

sequences = st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=12), min_size=1, max_size=40)


@FAST
@given(sequences, st.data())
def test_encoded_texts_items_and_padding(seqs, data):
    labels = data.draw(st.none() | st.lists(st.integers(0, 3), min_size=len(seqs), max_size=len(seqs)))
    ds = EncodedTexts(seqs, labels)
    assert len(ds) == len(seqs)
    for i, s in enumerate(seqs):
        index, ids, label = ds[i]
        assert index == i and ids.tolist() == s and label == (-1 if labels is None else labels[i])
    indices = data.draw(st.lists(st.integers(0, len(seqs) - 1), min_size=1, max_size=2 * len(seqs)))
    many = ds.__getitems__(indices)
    for (i, a, y), (j, b, z) in zip(many, [ds[i] for i in indices], strict=True):
        assert i == j and y == z and torch.equal(a, b)
    batch = pad_batch(many)
    assert batch["ids"].shape == (len(indices), max(len(seqs[i]) for i in indices))
    assert batch["index"].tolist() == indices
    assert batch["lengths"].tolist() == [len(seqs[i]) for i in indices]
    for row, i in zip(batch["ids"].tolist(), indices):
        n = len(seqs[i])
        assert row[:n] == seqs[i] and all(v == 0 for v in row[n:])
    assert batch["labels"].tolist() == [-1 if labels is None else labels[i] for i in indices]


def test_getitems_of_no_indices_is_empty():
    # regression: torch.tensor([]) is float, and float tensors cannot index the offsets
    assert EncodedTexts([[1, 2], [3]]).__getitems__([]) == []


@FAST
@given(
    st.lists(st.integers(1, 30), min_size=1, max_size=60),
    st.integers(1, 9),
    st.booleans(),
    st.integers(0, 3),
    st.integers(1, 4),
    st.integers(0, 5),
)
def test_bucket_sampler_covers_each_index_once(lengths, batch_size, shuffle, seed, pool_batches, epoch):
    lengths = torch.tensor(lengths)
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed, pool_batches=pool_batches)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches == list(sampler)  # same epoch, same order
    if not shuffle:
        flat = [int(lengths[i]) for b in batches for i in b]
        assert flat == sorted(flat)


@FAST
@given(
    st.lists(st.integers(1, 30), min_size=1, max_size=60),
    st.integers(1, 9),
    st.booleans(),
    st.integers(0, 3),
    st.integers(2, 4),
)
def test_bucket_sampler_replicas_are_disjoint_and_equal(lengths, batch_size, shuffle, epoch, num_replicas):
    lengths = torch.tensor(lengths)
    per_rank = []
    for rank in range(num_replicas):
        sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, num_replicas=num_replicas, rank=rank)
        sampler.set_epoch(epoch)
        per_rank.append(list(sampler))
        assert len(per_rank[-1]) == len(sampler)
    assert len({len(b) for b in per_rank}) == 1  # equal step counts, or DDP hangs
    seen = [i for batches in per_rank for b in batches for i in b]
    assert len(seen) == len(set(seen))
    # at most num_replicas - 1 batches are dropped to keep the counts equal
    full = -(-len(lengths) // batch_size)
    assert full - sum(len(b) for b in per_rank) < num_replicas


@SLOW
@given(sequences, st.integers(1, 7))
def test_dataloader_with_sampler_yields_every_text_once(seqs, batch_size):
    ds = EncodedTexts(seqs)
    sampler = BucketBatchSampler(ds.lengths, batch_size, shuffle=True, pool_batches=2)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=pad_batch)
    seen = []
    for batch in loader:
        for row, i, n in zip(batch["ids"].tolist(), batch["index"].tolist(), batch["lengths"].tolist()):
            assert row[:n] == seqs[i] and not any(row[n:])
            seen.append(i)
    assert sorted(seen) == list(range(len(seqs)))


# -- generation prompts ------------------------------------------------------------------------------

CHARS = "ab c\n"


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    vocab = Vocab([PAD, UNK, *CHARS])
    net = CharLMNet(CharLMConfig(len(vocab), embedding_dim=4, hidden_size=8))
    return Generator(net, vocab, prompt_chunk=16)


@SLOW
@given(
    prompt=hostile_text.filter(bool),
    length=st.integers(0, 12),
    num_samples=st.integers(1, 3),
    options=st.sampled_from(
        [
            {},
            {"greedy": True},
            {"temperature": 0.0},
            {"temperature": 5.0},
            {"top_k": 1},
            {"top_k": 2},
            {"top_p": 0.01},
            {"top_p": 0.9, "temperature": 0.5},
        ]
    ),
)
def test_generate_from_any_prompt(generator, prompt, length, num_samples, options):
    outs = generator.generate(prompt, length=length, seed=0, num_samples=num_samples, **options)
    assert len(outs) == num_samples
    for out in outs:
        assert len(out) == length
        assert set(out) <= set(CHARS)  # never <pad> or <unk>, which are not single characters anyway
    assert generator.generate(prompt, length=length, seed=0, num_samples=num_samples, **options) == outs


@SLOW
@given(
    prompt=hostile_text.filter(bool),
    length=st.integers(0, 12),
    stop=st.lists(st.text(alphabet=CHARS + "xé", min_size=1, max_size=2), max_size=3),
)
def test_generate_with_stop_strings_and_stream(generator, prompt, length, stop):
    streamed = []
    outs = generator.generate(prompt, length=length, seed=1, num_samples=2, stop=stop, stream=streamed.append)
    for out in outs:
        assert len(out) <= length and set(out) <= set(CHARS)
        if len(out) < length:  # stopped early: only right after a stop string
            assert any(out.endswith(s) for s in stop)
        assert not any(out[:k].endswith(s) for k in range(1, len(out)) for s in stop)
    assert "".join(streamed) == outs[0]
    assert all(len(c) == 1 for c in streamed)


@SLOW
@given(prompt=hostile_text.filter(bool))
def test_unknown_prompt_characters_read_as_unk(generator, prompt):
    unknown = {c for c in prompt if c not in CHARS}
    ids = generator.encode_prompt(prompt).tolist()
    assert len(ids) == len(prompt)
    assert ids == [Vocab.unk_id if c in unknown else generator.vocab.stoi[c] for c in prompt]


@SLOW
@given(prompt=hostile_text.filter(bool), chunk=st.integers(1, 7), num_samples=st.integers(1, 2))
def test_reading_the_prompt_in_chunks_equals_reading_it_whole(generator, prompt, chunk, num_samples):
    ids = generator.encode_prompt(prompt)
    whole, whole_state = Generator(generator.net, generator.vocab, prompt_chunk=len(prompt))._read_prompt(
        ids, num_samples
    )
    logits, state = Generator(generator.net, generator.vocab, prompt_chunk=chunk)._read_prompt(ids, num_samples)
    assert logits.shape == (num_samples, len(generator.vocab))
    torch.testing.assert_close(logits, whole, atol=1e-5, rtol=0)
    for a, b in zip(state, whole_state, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_unknown_prompt_characters_are_logged(generator, caplog):
    with caplog.at_level(logging.WARNING, logger="textrnn"):
        generator.generate("\u05e9a\x00\u200bb", length=3, seed=0)
    assert "read as <unk>" in caplog.text


def test_empty_prompt_is_a_user_error(generator):
    with pytest.raises(UserError, match="prompt is empty"):
        generator.generate("", length=5, seed=0)
    with pytest.raises(UserError, match="length must be 0 or more"):
        generator.generate("a", length=-1)


def test_a_long_prompt_is_read_in_bounded_chunks(generator):
    generator = Generator(generator.net, generator.vocab)  # the default prompt_chunk
    widths = []
    forward = generator.net.forward

    def spy(ids, state=None):
        widths.append(ids.size(1))
        return forward(ids, state)

    prompt = ("abc \n" * 10_000 + "\u05e9\u200b\x00") * 2  # 100,006 characters, some unknown
    generator.net.forward = spy
    try:
        out = generator.generate(prompt, length=20, seed=0)
    finally:
        del generator.net.forward
    assert len(out) == 1 and len(out[0]) == 20 and set(out[0]) <= set(CHARS)
    assert max(widths) == generator.prompt_chunk
    assert sum(widths) == len(prompt)  # the prompt once; each new character then goes through net.step
