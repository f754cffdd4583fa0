"""Tables for people and for pipes: a rich table on a terminal; plain tab-separated lines
(title, header, rows, caption), never cut or wrapped, when the output is a file or a pipe."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _plain(cell) -> str:
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return text.replace("\n", " ")


def show_table(console: Console, table: Table) -> None:
    if console.is_terminal:
        console.print(table)
        return
    lines = [_plain(table.title)] if table.title else []
    lines.append("\t".join(_plain(c.header) for c in table.columns))
    rows = zip(*(list(c.cells) for c in table.columns)) if table.columns else []
    lines += ["\t".join(_plain(cell) for cell in row) for row in rows]
    if table.caption:
        lines.append(_plain(table.caption))
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()
