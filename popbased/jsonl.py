"""JSON-lines record files of a run folder (rounds, generations, payoff): append one record,
read them back, keep only the first N (atomically)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from popbased.play import json_safe


def append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(json_safe(record)) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate(path: Path, keep: int) -> None:
    """Keeps the first `keep` records (drops those of a generation that never completed)."""
    from popbased.ppo.checkpoint import write_atomic

    records = read(path)
    if len(records) != keep:
        write_atomic(path, "".join(json.dumps(r) + "\n" for r in records[:keep]).encode())
