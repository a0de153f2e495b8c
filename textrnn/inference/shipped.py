"""Models that ship inside the package, loaded by name, offline: ``load_classifier("sst2-bilstm")``.

Each is a model folder (:mod:`textrnn.inference.folder`) under ``textrnn/shipped/NAME/`` with its model card:
``card.json`` (the facts: data, recipe, command, metrics) and ``card.md`` (the same, for people).
``scripts/make_models.py`` writes them; nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from textrnn.errors import UserError

SHIPPED = Path(__file__).resolve().parents[1] / "shipped"


def shipped_names() -> list[str]:
    """The names of the models that ship with this textrnn."""
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "card.json").is_file()) if SHIPPED.is_dir() else []


def resolve(source: str | Path) -> Path:
    """The path of a model: ``source`` itself when it exists (a path wins over a name), else the shipped model
    of that name.

    Raises:
        UserError: ``source`` looks like a name (no folder, no suffix) and no model ships under it.
    """
    path = Path(source).expanduser()
    if path.exists():
        return path
    if str(source) in shipped_names():
        return SHIPPED / str(source)
    if os.sep not in str(source) and "/" not in str(source) and not path.suffix:
        names = ", ".join(shipped_names()) or "none"
        raise UserError(f"{source!r} is neither a file nor a shipped model ({names}; see textrnn models)")
    return path


def card(name: str) -> dict[str, Any]:
    """The facts of a shipped model's card (``card.json``)."""
    return json.loads((_folder(name) / "card.json").read_text(encoding="utf-8"))


def card_text(name: str) -> str:
    """A shipped model's card, for people (``card.md``)."""
    return (_folder(name) / "card.md").read_text(encoding="utf-8")


def _folder(name: str) -> Path:
    if name not in shipped_names():
        raise UserError(f"no shipped model {name!r}; shipped: {', '.join(shipped_names()) or 'none'}")
    return SHIPPED / name
