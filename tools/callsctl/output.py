"""How results look: aligned tables for people, one JSON document for scripts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from calls.jsontext import dumps_exact


def as_json(value: Any) -> str:
    """Compact JSON; numbers read from the tables keep their exact value."""
    return dumps_exact(value)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | Decimal):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ", ".join(value) if value else "-"
    return dumps_exact(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)") -> str:
    """Columns padded to their widest cell; a line saying so when there are no rows."""
    if not rows:
        return empty
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max(len(column), *(len(row[index]) for row in cells)) for index, column in enumerate(columns)]
    lines = [columns, *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def record(fields: Mapping[str, Any]) -> str:
    """One thing, a field per line."""
    width = max((len(name) for name in fields), default=0)
    return "\n".join(f"{name.ljust(width)}  {cell(value)}".rstrip() for name, value in fields.items())
