"""One-line notices from a fit (a cut that missed its targets, a rollback, a budget not reached), through
aire's own logger rather than the warnings module.

A notice is a `logging` record of the ``aire`` logger (``aire.<module>``), at WARNING. When the program
has configured logging (its root logger has handlers), the record goes there like any library's, and the
program decides its format and level (``logging.getLogger("aire").setLevel(logging.ERROR)`` silences
them). When it has not, which is the usual script or notebook, aire's handler prints it as one line
``aire: warning: MESSAGE`` on stderr, the line the CLI prints, instead of `warnings`' two lines with a
source file and a line of aire's code. Nothing global is changed: not the warnings filters, not
`warnings.formatwarning`, not the root logger.
"""

from __future__ import annotations

import logging
import sys

#: the logger of every notice; child loggers (aire.schedules.adaptive, ...) propagate to it
LOGGER_NAME = "aire"


class OneLineHandler(logging.Handler):
    """``aire: LEVEL: MESSAGE`` on the current sys.stderr, unless the root logger has handlers (the program
    configured logging, and the record reaches its handlers by propagation)."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        try:
            sys.stderr.write(f"aire: {record.levelname.lower()}: {record.getMessage()}\n")
        except Exception:  # a closed stderr: a notice must never break a fit
            self.handleError(record)


def _install() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, OneLineHandler) for h in logger.handlers):
        logger.addHandler(OneLineHandler())
    return logger


_install()


def warn(message: str, where: str = LOGGER_NAME) -> None:
    """A one-line warning notice from logger `where` (a module's ``__name__`` under aire)."""
    logging.getLogger(where if where.startswith(LOGGER_NAME) else LOGGER_NAME).warning(message)
