"""Writing output folders all at once: into a temporary sibling, renamed into place at the end, so
an error or an interrupt never leaves a half-written folder where a finished one is expected."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from aire.errors import InputError


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an existing, non-empty output folder unless overwrite is set."""
    if out.exists() and not out.is_dir():
        raise InputError(f"output path exists and is not a folder: {out}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"output folder {out} already exists; pass --overwrite to replace it")


@contextmanager
def atomic_folder(out: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `out`; on success it replaces `out`, on any error it is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
