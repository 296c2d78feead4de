"""GET /api/calls: the app's calls, newest first, one Query a page, behind signed cursors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from calls.access import AppDirectory, admit
from calls.cursor import CursorScope, issue_cursor, open_cursor
from calls.errors import ValidationFailed
from calls.models import ListCallsQuery, PageKey, RecordPage, field_problems
from calls.request import CallRequest, first_query_value
from calls.view import caller_view, utc_now

if TYPE_CHECKING:
    from calls.responses import CallPage


class ListCallsPage(Protocol):
    def __call__(
        self,
        app_id: str,
        *,
        limit: int,
        now: int,
        status: str | None = None,
        conversation_id: str | None = None,
        start: PageKey | None = None,
    ) -> RecordPage: ...


def validate_list_query(query: Mapping[str, Sequence[str]]) -> ListCallsQuery:
    fields = {name: first_query_value(query, name) for name in ListCallsQuery.model_fields}
    try:
        return ListCallsQuery.model_validate({name: value for name, value in fields.items() if value})
    except ValidationError as error:
        raise ValidationFailed(details=list(field_problems(error).values())) from None


@dataclass(frozen=True)
class ListCalls:
    apps: AppDirectory
    list_calls: ListCallsPage
    join_base_url: str
    cursor_key: bytes
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest) -> CallPage:
        caller = admit(request, {}, self.apps)
        query = validate_list_query(request.query)
        app_id = caller.app.app_id
        scope = CursorScope(app_id=app_id, status=query.status, conversation_id=query.conversationId)
        start = open_cursor(self.cursor_key, query.cursor, scope) if query.cursor else None
        now = self.now()
        page = self.list_calls(
            app_id,
            limit=query.limit,
            now=int(now.timestamp()),
            status=query.status,
            conversation_id=query.conversationId,
            start=start,
        )
        data: CallPage = {
            "calls": [caller_view(call, caller, now=now, base_url=self.join_base_url) for call in page.calls]
        }
        if page.next_key is not None:
            data["nextCursor"] = issue_cursor(self.cursor_key, page.next_key, scope)
        return data
