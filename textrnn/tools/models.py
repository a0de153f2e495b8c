"""``textrnn models``: the models that ship with textrnn, and their cards."""

from __future__ import annotations

import argparse
import sys

from textrnn.errors import UserError
from textrnn.inference.folder import folder_megabytes
from textrnn.inference.shipped import SHIPPED, card, card_text, shipped_names


def table() -> str:
    """One line per shipped model: name, task, size on disk, headline metrics."""
    rows = [("name", "task", "size", "metrics")]
    for name in shipped_names():
        facts = card(name)
        megabytes = folder_megabytes(SHIPPED / name)
        metrics = ", ".join(f"{k} {v}" for k, v in facts["headline"].items())
        rows.append((name, facts["task"], f"{megabytes:.1f} MB", metrics))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[3]]) for row in rows)


def main(argv: list[str] | None = None) -> None:
    """``textrnn models [NAME]``: list the shipped models, or print one model's card."""
    parser = argparse.ArgumentParser(prog="textrnn models", description=main.__doc__)
    parser.add_argument("name", nargs="?", help="a shipped model: print its card")
    args = parser.parse_args(argv)
    try:
        print(card_text(args.name) if args.name else table())
    except UserError as err:
        sys.exit(f"textrnn models: error: {err}")
