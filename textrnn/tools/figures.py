"""Figures: gate heatmaps. matplotlib is an optional dependency (``pip install textrnn[plot]``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textrnn.errors import UserError

MAX_TICKS = 80  # label every time step up to this many; beyond, the labels would overlap


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or a UserError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise UserError("drawing needs matplotlib: pip install 'textrnn[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gates(
    gates: dict[str, np.ndarray], tokens: list[str], title: str, path: str | Path, units: int = 64
) -> None:
    """One heatmap per gate, time steps across and units down, saved as a PNG.

    Args:
        gates: Gate name -> (T, H) values.
        tokens: The T tokens, for the time axis.
        title: The figure's title.
        path: Where the PNG goes.
        units: Show the first this many units.
    """
    plt = pyplot()
    steps, hidden = next(iter(gates.values())).shape
    shown = min(units, hidden)
    size = (max(6, 0.18 * steps + 2), 1.2 + len(gates) * (0.9 + shown * 0.03))
    fig, axes = plt.subplots(len(gates), 1, figsize=size, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], gates.items()):
        if name in ("i", "f", "o", "r", "z"):  # sigmoid gates live in [0, 1]
            image = ax.imshow(values[:, :shown].T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        else:  # tanh values and the cell state, centred on 0; a few large cells must not wash out the rest
            limit = max(float(np.percentile(np.abs(values), 99)), 1e-6)
            image = ax.imshow(values[:, :shown].T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_ylabel(f"{name}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01)
        ax.set_xticks([])
    if steps <= MAX_TICKS:
        ax.set_xticks(range(steps), [repr(t)[1:-1] or " " for t in tokens], rotation=90, fontsize=7)
    ax.set_xlabel("time step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
