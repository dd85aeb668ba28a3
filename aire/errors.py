"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class InputError(ValueError):
    """Bad input from the user: a missing, unreadable or invalid file or setting."""
