"""Probabilities that mean what they say: temperature scaling (Guo et al. 2017) and calibration error.

A classifier trained with cross-entropy is often over-confident: of the texts it gives 0.99, far fewer than 99%
are right. Dividing its logits by one temperature T > 1, fitted on held-out data, fixes most of that without
changing a single predicted label.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 100) -> float:
    """The temperature T that minimises the cross-entropy of ``softmax(logits / T)`` against ``labels``.

    Args:
        logits: (N, C) a classifier's logits on held-out texts.
        labels: (N,) their true classes.
        steps: LBFGS iterations (the problem is one-dimensional and convex in log T).
    """
    # Lightning evaluates under inference mode, whose tensors autograd refuses: work on ordinary copies
    with torch.inference_mode(False), torch.enable_grad():
        logits, labels = logits.detach().float().cpu().clone(), labels.detach().cpu().clone()
        log_t = torch.zeros(1, requires_grad=True)  # T = exp(log_t) stays positive
        optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            optimizer.zero_grad()
            value = F.cross_entropy(logits / log_t.exp(), labels)
            value.backward()
            return value

        optimizer.step(loss)
    return float(log_t.detach().exp())


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """How far confidence is from accuracy: the mean over equal-width confidence bins of
    ``|accuracy - mean confidence|``, weighted by the share of texts in each bin.

    Args:
        probs: (N, C) class probabilities.
        labels: (N,) true classes.
        bins: Bins over (0, 1].
    """
    confidence, predicted = probs.float().max(dim=-1)
    correct = (predicted == labels).float()
    which = (confidence * bins).ceil().clamp(1, bins).long() - 1  # (N,) the bin of each text
    error = torch.zeros(())
    for b in which.unique():
        in_bin = which == b
        error += in_bin.float().mean() * (confidence[in_bin].mean() - correct[in_bin].mean()).abs()
    return float(error)
