"""Errors caused by the user's input: the CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A mistake in the user's files, arguments or configuration; the message names which and what."""
