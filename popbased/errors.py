"""Errors that reach the user as one line (the CLI prints them and exits 2)."""


class BadInput(ValueError):
    """A bad name, parameter, flag or file: the message says what is wrong and what is allowed."""
