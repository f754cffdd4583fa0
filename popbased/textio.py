"""Text and files at the bottom of the stack (imports nothing of popbased's but its errors): JSON-safe
values, atomic writes, JSON-lines record files, numbers for people.

JSON lines: a run killed while appending can leave its last line torn (no newline at the
end): readers drop that one record, and `truncate` / `keep_only` (what resume calls)
rewrite the file without it, so the next append starts on a fresh line.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.errors import BadInput


def json_safe(value: Any) -> Any:
    """Strict JSON: NaN/inf -> None, numpy scalars -> Python numbers, keys -> str."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _proc_umask() -> int | None:
    """The Umask line of /proc/self/status (Linux 4.7+), None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _set_and_restore() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _proc_umask()
if _IMPORT_UMASK is None:
    _IMPORT_UMASK = _set_and_restore()


def umask() -> int:
    """The process's umask, read without changing it from /proc/self/status; where that has
    none, the umask at import (os.umask reads it only by setting it, which other threads
    could see half-done, so that is done once, at import)."""
    current = _proc_umask()
    return _IMPORT_UMASK if current is None else current


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old or the new file. The
    file gets the mode any new file gets under the umask (0666 & ~umask, e.g. 0644), not the
    temp file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def num(value, spec: str = ".3g") -> str:
    """A number for people: '-' when there is none (None or NaN); float noise around zero
    (|x| < 1e-9, e.g. a mean minus itself) reads 0."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if not missing and isinstance(value, float) and abs(value) < 1e-9:
        value = 0.0
    return "-" if missing else format(value, spec)


# ---------------------------------------------------------------------- JSON lines

def append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(json_safe(record)) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.splitlines()
    torn = bool(text) and not text.endswith("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if torn and number == len(lines):
                break  # the record being appended when the run was killed
            raise BadInput(f"{path}:{number}: not a JSON record ({err})") from None
    return records


def _rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    if path.is_file() or records:
        write_atomic(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def truncate(path: Path, keep: int) -> None:
    """Keeps the first `keep` records (drops those of a generation that never completed)."""
    _rewrite(path, read(path)[:keep])


def keep_only(path: Path, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Keeps the records for which `keep` is true."""
    _rewrite(path, [r for r in read(path) if keep(r)])
