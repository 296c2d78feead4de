"""One HTTP request as the use cases need it, whatever route it came by."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallRequest:
    """One HTTP request: header names lower-cased, the query multi-valued, the body raw."""

    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    body: bytes = b""

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")


def first_query_value(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The first non-empty value of a query parameter given once or more."""
    for value in query.get(name) or ():
        if value:
            return value
    return None
