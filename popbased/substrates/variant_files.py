"""Variants of commons_harvest as TOML files: the repository's `substrates/` folder and the
folders named in POPBASED_SUBSTRATES (see substrates/README.md for the format).

A variant is `<name>.toml` holding a description, optional notes, [defaults] (parameters the
user may override) and [fixed] (parameters that define the variant); parameter names and
values are those of `CommonsParams`, checked by `parse_params`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.substrates.params import CommonsParams, parse_params

FOLDER = Path(__file__).resolve().parents[2] / "substrates"
"""The repository's own variants (popbased is installed editable from the repository)."""
ENV = "POPBASED_SUBSTRATES"
"""Extra folders of variant files, separated by os.pathsep."""
KEYS = ("description", "notes", "defaults", "fixed")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class VariantFile:
    """One variant as its file defines it (values typed as CommonsParams has them)."""

    name: str
    path: Path
    description: str
    notes: str
    defaults: dict[str, Any]
    fixed: dict[str, Any]


def folders() -> list[Path]:
    """The repository's folder, then those of POPBASED_SUBSTRATES (each must exist)."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    for folder in extra:
        if not folder.is_dir():
            raise BadInput(f"{ENV}: {str(folder)!r} is not a folder; it lists folders of variant "
                           f".toml files, separated by {os.pathsep!r}")
    return [FOLDER, *extra]


def read_all(taken: set[str] | frozenset[str] = frozenset()) -> dict[str, VariantFile]:
    """Every variant file of `folders()`, by name; a name in `taken` or defined twice is BadInput."""
    found: dict[str, VariantFile] = {}
    for folder in folders():
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            variant = read(path)
            if variant.name in taken:
                raise BadInput(f"{path}: name {variant.name!r} is a Melting Pot substrate's; "
                               "rename the file")
            if variant.name in found:
                raise BadInput(f"{path}: variant {variant.name!r} is already defined by "
                               f"{found[variant.name].path}; rename one of them")
            found[variant.name] = variant
    return found


def read(path: Path) -> VariantFile:
    """One variant file, checked: any problem is one line of BadInput naming the file."""
    name = path.stem
    if not _NAME.match(name):
        raise BadInput(f"{path}: file name {name!r}: a variant's name (its file's name) must be "
                       "lowercase letters, digits and _, starting with a letter")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: not valid TOML: {err}") from None
    for key, value in data.items():
        if key not in KEYS:
            raise BadInput(f"{path}: unknown key {key} = {_show(value)}; allowed: {', '.join(KEYS)}")
    description = _text(path, data, "description", required=True)
    notes = _text(path, data, "notes", required=False)
    defaults, fixed = (_table(path, data, key) for key in ("defaults", "fixed"))
    both = sorted(defaults.keys() & fixed.keys())
    if both:
        raise BadInput(f"{path}: {both[0]} is in both [defaults] and [fixed]; a parameter is either "
                       "one the user may override (defaults) or one that defines the variant (fixed)")
    try:
        parse_params({**defaults, **fixed})  # the parameters together (e.g. no_zap with zap_cooldown)
    except BadInput as err:
        raise BadInput(f"{path}: {err}") from None
    return VariantFile(name, path, description, notes, defaults, fixed)


def _text(path: Path, data: dict, key: str, required: bool) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadInput(f"{path}: {key} = {_show(value) if key in data else '(missing)'}; "
                       f"{key} must be {'a non-empty' if required else 'a'} string")
    return value.strip()


def _table(path: Path, data: dict, key: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise BadInput(f"{path}: {key} = {_show(table)}; [{key}] must be a table of parameters "
                       f"({', '.join(CommonsParams.__dataclass_fields__)})")
    return {name: _value(path, key, name, value) for name, value in table.items()}


def _value(path: Path, table: str, key: str, value: Any) -> Any:
    """`value` as CommonsParams types it; a TOML value of another type is BadInput."""
    where = f"{path}: [{table}] {key} = {_show(value)}"
    try:
        parsed = getattr(parse_params({key: value}), key)
    except BadInput as err:
        raise BadInput(f"{where}: {err}") from None
    kind = type(parsed)
    if type(value) is not kind and not (kind is float and type(value) is int):
        wanted = {bool: "true or false", int: "an integer", float: "a number",
                  str: "a quoted string"}[kind]
        raise BadInput(f"{where}: {key} must be {wanted} (a TOML value, not {type(value).__name__})")
    return parsed


def _show(value: Any) -> str:
    """A value as TOML writes it (near enough for a message)."""
    return json.dumps(value, default=str)
