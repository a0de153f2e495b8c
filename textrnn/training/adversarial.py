"""Adversarial training on word vectors (Miyato et al. 2017): the loss again, on the vectors moved a small step
in the direction that raises it most."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from textrnn.nn.classifier import TextClassifierNet


def adversarial_loss(
    net: TextClassifierNet,
    vectors: torch.Tensor,
    loss: torch.Tensor,
    batch: dict,
    eps: float,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> torch.Tensor:
    """The training loss of the batch read from ``vectors + r``, where ``r`` (B, T, E) is the gradient of
    ``loss`` with respect to ``vectors``, scaled to L2 norm ``eps`` for each text (the fast gradient method).

    Args:
        net: The classifier that read ``vectors`` to get ``loss``.
        vectors: (B, T, E) word vectors of ``batch["ids"]`` (:meth:`TextClassifierNet.embed`).
        loss: The batch's loss on ``vectors``; its graph is kept for the caller's backward pass.
        batch: ``ids``, ``lengths`` and ``labels``.
        eps: The norm of each text's perturbation.
        criterion: The loss of (logits, labels), as for ``loss`` (class weights, label smoothing).
    """
    (grad,) = torch.autograd.grad(loss, vectors, retain_graph=True)
    norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)  # (B, 1, 1)
    logits = net.read(vectors + eps * grad / norm, batch["ids"], batch["lengths"])
    return criterion(logits, batch["labels"])
