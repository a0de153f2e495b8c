"""``python -m textrnn``: the same as the ``textrnn`` command."""

from textrnn.commands import main

main()
