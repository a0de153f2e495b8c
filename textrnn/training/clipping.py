"""Gradient clipping by value, by each tensor's norm, or by the global norm of all gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import torch

GradClip = Literal["value", "norm", "global_norm"]  # as a type hint, the CLI rejects other values when parsing
MODES = get_args(GradClip)
EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s guard for a zero norm; the same one keeps results identical


def check_mode(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of ``MODES``."""
    if mode not in MODES:
        raise ValueError(f"grad_clip must be one of {', '.join(MODES)}, not {mode!r}")


def _grads(parameters: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return [p.grad for p in parameters if p.grad is not None]


def _norms(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    # ||g_i|| for every i with the multi-tensor kernel clip_grad_norm_ uses: one launch on a GPU, same bits
    return list(torch._foreach_norm(grads)) if grads else []


def _total(norms: list[torch.Tensor]) -> torch.Tensor:
    # sqrt(sum_i ||g_i||^2) as the norm of the per-tensor norms: the same reduction as torch's clip_grad_norm_
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.tensor(0.0)


def _scale(norm: torch.Tensor, max_value: float) -> torch.Tensor:
    # capped at 1 so clipping only ever shrinks; a tensor, so nothing waits for the device
    return (max_value / (norm + EPS)).clamp(max=1.0)


@torch.no_grad()
def global_grad_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all gradients taken as one vector, ``sqrt(sum_i ||g_i||^2)``.

    Args:
        parameters: Tensors whose ``.grad`` counts; those without one are skipped.

    Returns:
        A 0-d tensor on the gradients' device (no host sync); 0 when there are no gradients.
    """
    return _total(_norms(_grads(parameters)))


@torch.no_grad()
def clip_gradients(parameters: Iterable[torch.Tensor], mode: str, max_value: float) -> torch.Tensor:
    """Clip gradients in place and return their global L2 norm from before clipping.

    With ``g_i`` the gradient of parameter ``i``, ``m = max_value`` and ``N = sqrt(sum_i ||g_i||^2)``:

    - ``value``: ``g_i <- clamp(g_i, -m, m)``, element by element (``clip_grad_value_``);
    - ``norm``: ``g_i <- g_i * min(1, m / (||g_i|| + 1e-6))``, each tensor on its own
      (``clip_grad_norm_`` called once per tensor);
    - ``global_norm``: ``g_i <- g_i * min(1, m / (N + 1e-6))``, one factor for all tensors, so the
      update keeps its direction (``clip_grad_norm_`` over all parameters, ``tf.clip_by_global_norm``).

    Args:
        parameters: Tensors whose ``.grad`` is clipped; those without one are skipped.
        mode: ``value``, ``norm`` or ``global_norm``.
        max_value: ``m`` above.

    Returns:
        ``N`` before clipping, a 0-d tensor (no host sync).

    Raises:
        ValueError: ``mode`` is none of the above.
    """
    check_mode(mode)
    grads = _grads(parameters)
    norms = _norms(grads)
    total = _total(norms)
    if mode == "value":
        for g in grads:
            g.clamp_(-max_value, max_value)
    elif mode == "norm":
        for g, norm in zip(grads, norms):
            g.mul_(_scale(norm, max_value))
    else:
        scale = _scale(total, max_value)
        for g in grads:
            g.mul_(scale)
    return total
