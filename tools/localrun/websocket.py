"""API Gateway's WebSocket API, locally, in front of the signaling function.

On an upgrade of `/ws` the `$connect` REQUEST authorizer runs first (the same function, with the
authorizer's event); a Deny or an "Unauthorized" refuses the handshake (403, 401), as does a
`$connect` route answer that is not 2xx. Then each text frame is one route event, the route
chosen as `$request.body.action` chooses it (hello, signal, ping, else `$default`), and the
socket's close is one `$disconnect`. Every event carries the authorizer's context in
`requestContext.authorizer`. A connection's events run one after another, in order.

The management API answers at `/__connections__/@connections/{connectionId}` (the function's
SIGNALING_CALLBACK_URL is `http://127.0.0.1:{PORT}/__connections__`), so boto3's
`apigatewaymanagementapi` client works unchanged: POST sends its body as a frame, DELETE closes
the socket, GET describes the connection; a closed or unknown connection is 410 GoneException.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import secrets
import string
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import WSCloseCode, WSMsgType, web

from localrun.gateway import STAGE, BodyTooLarge, header_maps, own_headers, query_maps, read_bounded

if TYPE_CHECKING:
    from localrun.gateway import LocalFunction

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
API_ID = "local"
# The route selection expression $request.body.action, and the routes the API declares.
ROUTE_KEYS = frozenset({"hello", "signal", "ping"})
# API Gateway's limits: a message of at most 128 KiB, in either direction; larger ones it closes
# with 1009. (The function refuses frames over its own 16 KiB itself.)
MAX_MESSAGE_BYTES = 128 * 1024
MANAGEMENT_PREFIX = "/__connections__/@connections/"
_ID_ALPHABET = string.ascii_letters + string.digits


def new_connection_id() -> str:
    """Shaped like API Gateway's: 15 characters and a '=' (they travel in URL paths, encoded)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def route_key(body: str) -> str:
    """What `$request.body.action` selects: a JSON object's string `action` naming a route."""
    try:
        message = json.loads(body)
    except ValueError:
        return "$default"
    action = message.get("action") if isinstance(message, dict) else None
    return action if isinstance(action, str) and action in ROUTE_KEYS else "$default"


def _epoch_ms() -> int:
    return int(time.time() * 1000)


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass
class Connection:
    connection_id: str
    headers: list[tuple[str, str]]
    query_string: str
    source_ip: str
    user_agent: str | None
    connected_at: int = field(default_factory=_epoch_ms)
    last_active_at: int = field(default_factory=_epoch_ms)
    authorizer: dict[str, Any] | None = None
    socket: web.WebSocketResponse | None = None
    closing: bool = False


class AuthorizerRefusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def authorizer_verdict(answer: Any, method_arn: str, latency_ms: int) -> dict[str, Any]:
    """`requestContext.authorizer` for the connection's events, or AuthorizerRefusal.

    As API Gateway reads a REQUEST authorizer's answer: an explicit Deny matching the ARN wins,
    else an Allow must match it; `principalId` and an IAM `policyDocument` are required, and the
    `context` values must be strings, numbers or booleans (anything else is a 500).
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
        raise AuthorizerRefusal(500, "the authorizer's answer has no principalId")
    statements = (answer.get("policyDocument") or {}).get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise AuthorizerRefusal(500, "the authorizer's answer has no policyDocument.Statement")
    context = answer.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(value, str | int | float | bool) for value in context.values()
    ):
        raise AuthorizerRefusal(500, "the authorizer's context holds a value of another type")

    def matches(statement: dict[str, Any]) -> bool:
        actions = statement.get("Action")
        resources = statement.get("Resource")
        actions = [actions] if isinstance(actions, str) else actions or []
        resources = [resources] if isinstance(resources, str) else resources or []
        invokes = any(fnmatch.fnmatchcase("execute-api:Invoke", action) for action in actions)
        return invokes and any(fnmatch.fnmatchcase(method_arn, resource) for resource in resources)

    effects = {str(statement.get("Effect")) for statement in statements if matches(statement)}
    if "Deny" in effects or "Allow" not in effects:
        raise AuthorizerRefusal(403, "Forbidden")
    return {**context, "principalId": answer["principalId"], "integrationLatency": latency_ms}


class WebSocketApi:
    """The WebSocket API and its management API, over one function (which is also the authorizer)."""

    def __init__(self, function: LocalFunction, *, domain_name: str, stage: str = STAGE):
        self.function = function
        self.domain_name = domain_name
        self.stage = stage
        self.connections: dict[str, Connection] = {}

    @property
    def method_arn(self) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self.stage}/$connect"

    # Events, in API Gateway's shapes

    def request_context(
        self, connection: Connection, route: str, event_type: str, **extra: Any
    ) -> dict[str, Any]:
        now = _epoch_ms()
        request_id = str(uuid.uuid4())
        identity = {"sourceIp": connection.source_ip}
        if connection.user_agent:
            identity["userAgent"] = connection.user_agent
        context: dict[str, Any] = {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connection.connected_at,
            "requestTimeEpoch": now,
            "identity": identity,
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": connection.connection_id,
            "apiId": API_ID,
            **extra,
        }
        if connection.authorizer is not None:
            context["authorizer"] = connection.authorizer
        return context

    def authorizer_event(self, connection: Connection) -> dict[str, Any]:
        single, multi = header_maps(connection.headers)
        query, multi_query = query_maps(connection.query_string)
        return {
            "type": "REQUEST",
            "methodArn": self.method_arn,
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": query or {},
            "multiValueQueryStringParameters": multi_query or {},
            "stageVariables": {},
            "requestContext": self.request_context(connection, "$connect", "CONNECT"),
        }

    def connect_event(self, connection: Connection) -> dict[str, Any]:
        single, multi = header_maps(connection.headers)
        event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
        query, multi_query = query_maps(connection.query_string)
        if query:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = multi_query
        event["requestContext"] = self.request_context(connection, "$connect", "CONNECT")
        event["isBase64Encoded"] = False
        return event

    def message_event(self, connection: Connection, body: str) -> dict[str, Any]:
        context = self.request_context(connection, route_key(body), "MESSAGE", messageId=str(uuid.uuid4()))
        return {"requestContext": context, "body": body, "isBase64Encoded": False}

    def disconnect_event(self, connection: Connection, status_code: int, reason: str) -> dict[str, Any]:
        headers = [("Host", self.domain_name), ("X-Forwarded-For", connection.source_ip)]
        single, multi = header_maps(headers)
        context = self.request_context(
            connection,
            "$disconnect",
            "DISCONNECT",
            disconnectStatusCode=status_code,
            disconnectReason=reason,
        )
        return {
            "headers": single,
            "multiValueHeaders": multi,
            "requestContext": context,
            "isBase64Encoded": False,
        }

    # The WebSocket API

    async def handle_upgrade(self, request: web.BaseRequest) -> web.StreamResponse:
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        if not socket.can_prepare(request).ok:
            return _refusal(426, "Upgrade Required")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers]
        connection = Connection(
            connection_id=new_connection_id(),
            headers=headers,
            query_string=request.query_string,
            source_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent"),
        )
        refusal = await self._admit(connection)
        if refusal is not None:
            return refusal
        await socket.prepare(request)
        connection.socket = socket
        self.connections[connection.connection_id] = connection
        try:
            await self._relay(connection, socket)
        finally:
            connection.closing = True
            self.connections.pop(connection.connection_id, None)
            await self._disconnected(connection, socket)
        return socket

    async def _admit(self, connection: Connection) -> web.Response | None:
        """The authorizer, then the $connect route: None admits, else the handshake's refusal."""
        return await self._authorize(connection) or await self._connect(connection)

    async def _authorize(self, connection: Connection) -> web.Response | None:
        started = _epoch_ms()
        try:
            answer = await self.function.invoke(self.authorizer_event(connection))
            connection.authorizer = authorizer_verdict(answer, self.method_arn, _epoch_ms() - started)
        except AuthorizerRefusal as refusal:
            if refusal.status < 500:
                return _refusal(refusal.status, refusal.message)
            print(f"[ws] $connect authorizer: {refusal.message}", flush=True)
            return _refusal(500, "Internal server error")
        except Exception as error:
            if str(error) == "Unauthorized":  # the one exception API Gateway turns into a 401
                return _refusal(401, "Unauthorized")
            traceback.print_exc()
            return _refusal(500, "Internal server error")
        return None

    async def _connect(self, connection: Connection) -> web.Response | None:
        try:
            result = await self.function.invoke(self.connect_event(connection))
        except Exception:
            traceback.print_exc()
            return _refusal(500, "Internal server error")
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            refused = status if status >= 400 and status in {code.value for code in HTTPStatus} else 500
            return _refusal(refused, HTTPStatus(refused).phrase)
        return None

    async def _relay(self, connection: Connection, socket: web.WebSocketResponse) -> None:
        async for message in socket:
            connection.last_active_at = _epoch_ms()
            if message.type == WSMsgType.TEXT:
                event = self.message_event(connection, message.data)
                try:
                    await self.function.invoke(event)
                except Exception:
                    # What API Gateway sends the client when the integration fails.
                    traceback.print_exc()
                    error = {
                        "message": "Internal server error",
                        "connectionId": connection.connection_id,
                        "requestId": event["requestContext"]["requestId"],
                    }
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await socket.send_str(json.dumps(error))
            elif message.type == WSMsgType.BINARY:
                # API Gateway takes no binary frames: it closes with 1003.
                await socket.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"Binary frames unsupported")
                return
            else:  # an error, a frame over the limit (closed with 1009)
                return

    async def _disconnected(self, connection: Connection, socket: web.WebSocketResponse) -> None:
        code = socket.close_code or 1006
        reason = "Connection closed normally" if code in (1000, 1001) else f"Connection closed ({code})"
        try:
            await self.function.invoke(self.disconnect_event(connection, code, reason))
        except Exception:
            traceback.print_exc()

    async def close_all(self) -> None:
        """On shutdown: every socket closed (1001), so each gets its $disconnect."""
        for connection in list(self.connections.values()):
            connection.closing = True
            if connection.socket is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.socket.close(code=WSCloseCode.GOING_AWAY), 5)

    # The management API

    @staticmethod
    def management_connection_id(path: str) -> str | None:
        if not path.startswith(MANAGEMENT_PREFIX):
            return None
        return unquote(path.removeprefix(MANAGEMENT_PREFIX))

    async def handle_management(self, request: web.BaseRequest, connection_id: str) -> web.Response:
        connection = self.connections.get(connection_id)
        if connection is not None and (connection.closing or connection.socket is None):
            connection = None
        if request.method == "POST":
            return await self._post(request, connection)
        if request.method == "DELETE":
            return self._delete(connection)
        if request.method == "GET":
            return self._describe(connection)
        return _management_error(405, "MethodNotAllowedException", "Method not allowed")

    @staticmethod
    async def _post(request: web.BaseRequest, connection: Connection | None) -> web.Response:
        try:
            data = await read_bounded(request, MAX_MESSAGE_BYTES)
        except BodyTooLarge:
            return _management_error(413, "PayloadTooLargeException", "Message too long")
        if connection is None or connection.socket is None:
            return _gone()
        try:
            await connection.socket.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await connection.socket.send_bytes(data)
        except (ConnectionError, RuntimeError):
            return _gone()
        return web.Response(status=200, headers=own_headers())

    @staticmethod
    def _delete(connection: Connection | None) -> web.Response:
        if connection is None or connection.socket is None:
            return _gone()
        connection.closing = True
        # Answered at once, as API Gateway does; the close (and $disconnect) follow.
        asyncio.get_running_loop().create_task(connection.socket.close(code=WSCloseCode.OK))
        return web.Response(status=204, headers=own_headers())

    @staticmethod
    def _describe(connection: Connection | None) -> web.Response:
        if connection is None:
            return _gone()
        info = {
            "connectedAt": _iso(connection.connected_at),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent or ""},
            "lastActiveAt": _iso(connection.last_active_at),
        }
        return _json_response(200, info)


def _json_response(status: int, body: Any, extra: dict[str, str] | None = None) -> web.Response:
    headers = {**own_headers(), "Content-Type": "application/json", **(extra or {})}
    return web.Response(status=status, body=json.dumps(body).encode("utf-8"), headers=headers)


def _refusal(status: int, message: str) -> web.Response:
    """A refused handshake: plain HTTP, as API Gateway answers it."""
    return _json_response(status, {"message": message})


def _gone() -> web.Response:
    return _management_error(410, "GoneException", None)


def _management_error(status: int, error_type: str, message: str | None) -> web.Response:
    """As the management API answers: the error's type in x-amzn-ErrorType, which boto3 reads."""
    return _json_response(status, {"message": message}, {"x-amzn-ErrorType": error_type})
