"""Errors as the user sees them.

BadInput: a bad name, parameter, flag or file; the CLI prints its one line and exits 2.
Anything else that escapes a command is a bug: the CLI says it is an internal error, writes
the full traceback to the run folder's `error.log` (or, before a run folder exists, to a
file in the temp folder) and says where, and exits 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ERROR_LOG = "error.log"


class BadInput(ValueError):
    """A bad name, parameter, flag or file: the message says what is wrong and what is allowed."""


class InternalError(RuntimeError):
    """A failure that is popbased's fault (e.g. an unexpected exception inside a Ray worker):
    `detail` holds what the user does not need on the terminal (a remote traceback)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


_log_folder: Path | None = None


def log_into(folder: str | Path | None) -> None:
    """Internal errors of this process go to FOLDER/error.log from now on."""
    global _log_folder
    _log_folder = None if folder is None else Path(folder)


def write_traceback(err: BaseException) -> Path:
    """Appends `err`'s full traceback (and any remote detail) to the error log; its path."""
    if _log_folder is not None and _log_folder.is_dir():
        path = _log_folder / ERROR_LOG
    else:
        path = Path(tempfile.gettempdir()) / f"popbased-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(err))
    detail = getattr(err, "detail", "") or ""
    with path.open("a") as f:
        f.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} popbased {' '.join(sys.argv[1:])}\n{text}")
        if detail:
            f.write(f"--- detail\n{detail}\n")
    return path
