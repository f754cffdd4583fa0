"""The files an experiment writes for its runs (OUT/files/): a pbt arm's population file with
the arm's overrides, as TOML. The user's own files are never modified.

`dumps` writes the TOML subset population files use (tables, strings, numbers, booleans,
arrays, inline tables); `tomllib.loads(dumps(data)) == data` for such data.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

from popbased.textio import write_atomic

BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if BARE.match(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    """`value` as a TOML value (inline: strings, numbers, booleans, arrays, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}: {value!r}")


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text for `data`: non-empty tables as [headers], everything else inline."""
    lines: list[str] = []

    def table(prefix: tuple[str, ...], items: Mapping[str, Any]) -> None:
        subtables = {k: v for k, v in items.items() if isinstance(v, Mapping) and v}
        plain = {k: v for k, v in items.items() if k not in subtables}
        if prefix and (plain or not subtables):
            lines.append(("\n" if lines else "") + "[" + ".".join(map(_key, prefix)) + "]")
        lines.extend(f"{_key(k)} = {toml_value(v)}" for k, v in plain.items())
        for key, sub in subtables.items():
            table(prefix + (key,), sub)

    table((), data)
    return "\n".join(lines) + "\n"


def write_population(path: Path, data: Mapping[str, Any], source: str) -> Path:
    """Writes a population file (with a comment naming where it came from)."""
    text = f"# {source}, with the experiment arm's overrides (written by popbased experiment)\n"
    write_atomic(path, (text + dumps(data)).encode())
    return path
