"""The ``textrnn`` command: the tools start at once; fit, validate, test and predict go to LightningCLI."""

from __future__ import annotations

import importlib
import sys

TOOLS = {  # subcommands outside LightningCLI: name -> module with main(argv)
    "export": "textrnn.tools.export",
    "gates": "textrnn.tools.gates",
    "models": "textrnn.tools.models",
    "plot": "textrnn.tools.plot",
    "serve": "textrnn.serve.cli",
    "vectors": "textrnn.tools.vectors",
}


def main(args: list[str] | None = None) -> None:
    """Entry point of ``textrnn``: fit, validate, test or predict from a YAML config, or a tool of ``TOOLS``."""
    argv = sys.argv[1:] if args is None else args
    if argv and argv[0] in TOOLS:
        return importlib.import_module(TOOLS[argv[0]]).main(argv[1:])
    from textrnn.training.cli import run  # Lightning takes seconds to import: only these commands need it

    run(args)
