import math

import torch

from textrnn.inference.sampling import filter_top_k, filter_top_p, sample_next

PROBS = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
LOGITS = PROBS.log()


def _kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits[0]).nonzero().flatten().tolist()


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    assert _kept(filter_top_p(LOGITS, 0.5)) == [1]
    assert _kept(filter_top_p(LOGITS, 0.8)) == [1, 3]
    assert _kept(filter_top_p(LOGITS, 0.81)) == [1, 2, 3]
    assert _kept(filter_top_p(LOGITS, 0.3)) == [1]  # the likeliest token always stays
    assert _kept(filter_top_p(LOGITS, 1.0)) == [0, 1, 2, 3]


def test_top_k_keeps_the_k_likeliest():
    assert _kept(filter_top_k(LOGITS, 2)) == [1, 3]
    assert _kept(filter_top_k(LOGITS, 0)) == [0, 1, 2, 3]


def test_top_k_one_and_near_zero_temperature_equal_greedy():
    logits = torch.randn(64, 30, generator=torch.Generator().manual_seed(0))
    greedy = sample_next(logits, greedy=True)
    gen = torch.Generator().manual_seed(1)
    assert torch.equal(sample_next(logits, top_k=1, generator=gen), greedy)
    assert torch.equal(sample_next(logits, temperature=1e-4, generator=gen), greedy)
    assert torch.equal(sample_next(logits, temperature=0), greedy)


def test_sampling_follows_the_distribution_and_the_seed():
    logits = LOGITS.expand(20000, -1)
    draws = sample_next(logits, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4) / 20000
    torch.testing.assert_close(freq, PROBS[0], atol=0.01, rtol=0)
    again = sample_next(logits, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)
    nucleus = sample_next(logits, top_p=0.8, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(nucleus, minlength=4) / 20000
    assert freq[0] == freq[2] == 0 and math.isclose(freq[1], 0.5 / 0.8, abs_tol=0.015)


def test_the_exponential_race_draws_what_multinomial_draws():
    """Same seed, same ids as ``torch.multinomial``: the race is its one-sample method, without the checks."""
    logits = torch.randn(256, 40, generator=torch.Generator().manual_seed(5))
    ours = sample_next(logits, temperature=0.8, generator=torch.Generator().manual_seed(7))
    probs = torch.softmax(logits / 0.8, dim=-1)
    reference = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(7)).squeeze(-1)
    assert torch.equal(ours, reference)
