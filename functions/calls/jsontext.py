"""Exact JSON: numbers keep their value and their JSON type through a parse and a dump.

The standard library would turn 1.0 into a float and back (fine) but 1e400 into
infinity and 0.1000000000000000055511151231257827 into 0.1; decimals keep the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

# Deeper JSON is refused as unreadable, whatever the interpreter would manage: Python 3.11's
# parser stopped near 1,000 levels (the recursion limit), 3.13's C parser goes to about 10,000.
# The API's answer to a body must not change with the Python it runs on.
MAX_PARSE_DEPTH = 1000


class JsonTooDeep(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads_exact(text: str) -> Any:
    """Parse JSON keeping every number as it was written (int or Decimal); NaN and Infinity refused."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent beyond what Decimal holds
        raise ValueError("a number out of range") from None
    # Each level opens a bracket: only a text with more brackets than the limit needs measuring.
    brackets = text.count("[") + text.count("{")
    if brackets > MAX_PARSE_DEPTH and nesting_depth(value, MAX_PARSE_DEPTH) > MAX_PARSE_DEPTH:
        raise JsonTooDeep("JSON nested too deeply")
    return value


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) holds a lone surrogate, which UTF-8 cannot encode.

    Iterative, so it copes with whatever depth the parser accepted.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def dumps_exact(value: Any) -> str:
    """Compact JSON (UTF-8 characters left as they are) that writes Decimals as the numbers they hold."""
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


def _encode(value: Any, out: Callable[[str], Any]) -> None:
    if value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, str):
        out(encode_basestring(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite number")
        out(str(value))
    elif isinstance(value, int):
        out(int.__repr__(value))
    elif isinstance(value, float):
        out(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        out("{")
        first = True
        for key, item in value.items():
            if not first:
                out(",")
            first = False
            out(encode_basestring(str(key)))
            out(":")
            _encode(item, out)
        out("}")
    elif isinstance(value, list | tuple):
        out("[")
        for position, item in enumerate(value):
            if position:
                out(",")
            _encode(item, out)
        out("]")
    else:
        raise TypeError(f"not JSON serializable: {type(value).__name__}")


def nesting_depth(value: Any, limit: int | None = None) -> int:
    """Levels of objects and arrays: {} is 1, {"a": []} is 2, a scalar is 0.

    Iterative, so any depth the parser accepted is measured without recursion; with `limit`
    it stops as soon as the depth is known to exceed it (and returns limit + 1).
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if limit is not None and deepest > limit:
            return limit + 1
        pending.extend((child, level + 1) for child in children)
    return deepest
