"""Pure sampling functions: logits (N, V) in, next token ids (N,) out."""

from __future__ import annotations

import torch


def filter_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row; the others become -inf."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability reaches ``p``."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    # a token is dropped when the tokens before it already reach p; the most likely always stays
    drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token of each row.

    Args:
        logits: (N, V) unnormalised scores.
        temperature: Divides the logits; lower is more conservative. 0 means greedy.
        top_k: Sample among the ``k`` most likely tokens only (0: all).
        top_p: Sample among the smallest set whose probability reaches ``p`` (1: all).
        greedy: Take the most likely token (ignores the other options).
        generator: Random source, for reproducible samples.

    Returns:
        (N,) token ids.
    """
    if greedy or temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    probs = torch.softmax(filter_top_p(filter_top_k(logits, top_k), top_p), dim=-1)
    # an exponential race: argmax_i p_i / E_i with E_i ~ Exp(1) is i with probability p_i. It is how
    # torch.multinomial draws one sample (same numbers from the same generator), minus its checks,
    # which take half the time at one character per step
    race = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / race).argmax(dim=-1)
