"""JSON-lines record files of a run folder (rounds, generations, payoff, lineage): append one
record, read them back, keep only some (atomically).

A run killed while appending can leave its last line torn (no newline at the end): readers
drop that one record, and `truncate` / `keep_only` (what resume calls) rewrite the file
without it, so the next append starts on a fresh line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from popbased.errors import BadInput
from popbased.play import json_safe


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
    from popbased.ppo.checkpoint import write_atomic

    if path.is_file() or records:
        write_atomic(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def truncate(path: Path, keep: int) -> None:
    """Keeps the first `keep` records (drops those of a generation that never completed)."""
    _rewrite(path, read(path)[:keep])


def keep_only(path: Path, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Keeps the records for which `keep` is true."""
    _rewrite(path, [r for r in read(path) if keep(r)])
