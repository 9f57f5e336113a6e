"""GraphQL over HTTP and over WebSocket (graphql-transport-ws): strawberry's view with the
platform's rules on top.

HTTP: a body that is not a JSON object is refused with 400 (strawberry answers 500), and a
subscription is refused with an error naming the WebSocket (strawberry would run it as a
query and fail unexpectedly).

WebSocket: a socket is anonymous, or bound to the session of the access token given in
`connection_init`. A token that does not identify a live session there is refused, and a
session that ends later (logout, expiry, revocation) closes the socket; both with close
code 4403, after which the client refreshes its token or logs in, and connects again. The
session is checked again before each operation starts and before each result or event is
delivered, so nothing reaches a socket whose session has ended; an idle socket notices
within `session_check_interval`. Each operation is counted against the same per-minute
limits as an HTTP request and runs with a Context of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message,
    SubscribeMessage,
)
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from specialistly.api.context import Context
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.infra.auth import Identity, bearer_token
from specialistly.infra.ratelimit import request_wait, too_many_requests
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.api.transport")

SESSION_ENDED = 4403  # graphql-transport-ws "Forbidden", as when connection_init is refused

# Inside an operation's task: that operation's Context (see SocketHandler.context).
_operation_context: ContextVar[Context | None] = ContextVar("operation_context", default=None)


async def live_identity(context: Context) -> Identity | None:
    """Who the socket's token names, or None once its session has ended or it expired."""
    if not context.bearer:
        return None
    try:
        return await context.runtime.tokens.identify(context.bearer)
    except DomainError:
        return None


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with session checks, per-operation limits and contexts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._identities: dict[str, Identity | None] = {}
        self._watch: asyncio.Task[None] | None = None
        self._ended = False

    @property
    def context(self) -> Context:
        """In an operation's task, that operation's own Context; elsewhere the socket's.

        strawberry hands `self.context` to every operation of a socket; reading it through
        this property gives each one a fresh viewer and fresh DataLoaders instead.
        """
        return _operation_context.get() or self._socket_context

    @context.setter
    def context(self, value: Context) -> None:
        self._socket_context = value

    async def handle_message(self, message: Message) -> None:
        problem = _malformed(message)
        if problem:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.context.bearer and self._watch is None:
            self._watch = asyncio.create_task(self._watch_session())

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        op_id = message["id"]
        if self.connection_acknowledged and op_id not in self.operations:
            identity = None
            if self.context.bearer:
                identity = await live_identity(self.context)
                if identity is None:
                    await self._end_session()
                    return
            client = self.context.connection.client
            address = client.host if client else "unknown"
            wait = await request_wait(self.context.runtime, self.context.bearer, address)
            if wait:
                error = {"id": op_id, "type": "error", "payload": [too_many_requests(wait)]}
                await self.send_message(error)  # type: ignore[arg-type]
                return
            self._identities[op_id] = identity
        await super().handle_subscribe(message)
        if op_id not in self.operations:
            self._identities.pop(op_id, None)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        identity = self._identities.pop(operation.id, None)
        _operation_context.set(self._socket_context.for_operation(identity))
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        if self._ended:
            return
        if (
            message["type"] == "next"
            and self._socket_context.bearer
            and await live_identity(self._socket_context) is None
        ):
            await self._end_session()
            return
        await super().send_message(message)

    async def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with suppress(asyncio.CancelledError):
                await self._watch
        await super().shutdown()

    async def _watch_session(self) -> None:
        context = self._socket_context
        interval = context.runtime.settings.session_check_interval.total_seconds()
        while not self._ended:
            await asyncio.sleep(interval)
            try:
                alive = await live_identity(context) is not None
            except Exception:
                log.exception("could not check a WebSocket's session; checking again later")
                continue
            if not alive:
                await self._end_session()

    async def _end_session(self) -> None:
        """Close the socket and end every operation on it: the session has ended."""
        if self._ended:
            return
        self._ended = True
        with suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
            await self.websocket.close(SESSION_ENDED, "The session has ended; log in again.")
        for op_id in list(self.operations):
            await self.cleanup_operation(op_id)


def subscription_over_http(run: ExecutionContext) -> GraphQLError | None:
    """The refusal of a subscription asked for over HTTP, where it cannot stream."""
    connection = getattr(run.context, "connection", None)
    if run.operation_type == OperationType.SUBSCRIPTION and not isinstance(connection, WebSocket):
        return GraphQLError(
            "Subscriptions are served over WebSocket (graphql-transport-ws) only.",
            extensions={"code": ErrorCode.WEBSOCKET_REQUIRED.value},
        )
    return None


def _malformed(message: object) -> str | None:
    """Why a message cannot be handled, for the shapes strawberry would crash on."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message must be a JSON object with a string `type`."
    if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return "An operation message needs a string `id`."
    if message["type"] == "subscribe":
        payload = message.get("payload")
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables"), (dict, type(None)))
            and isinstance(payload.get("operationName"), (str, type(None)))
            and isinstance(payload.get("extensions"), (dict, type(None)))
        ):
            return (
                "A subscribe payload needs a string `query`, and `variables` and"
                " `extensions` objects and a string `operationName` if any."
            )
    return None


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SocketHandler

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            runtime=runtime_of(request), connection=request, bearer=bearer_token(request)
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # graphql-transport-ws sends credentials in connection_init, not in headers.
        context.bearer = bearer_token(context.connection, context.connection_params) or (
            context.bearer
        )
        if context.bearer and await live_identity(context) is None:
            raise ConnectionRejectionError  # closes the socket with 4403
        return await super().on_ws_connect(context)

    def encode_json(self, data: object) -> str:
        """The answer as JSON text (text, not bytes: a WebSocket sends it as a text frame)."""
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits): the slow way
            return json.dumps(data, separators=(",", ":"))

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The common request, a JSON object POSTed with no streaming transport to choose,
        read without strawberry's general parse (its content type parsing and transport
        lookup cost more than the rest of it); anything else, strawberry's answer."""
        if request.method == "POST" and not self._stream_transport_map:
            mime, _ = _content_type(request.content_type or "")
            if "application/json" in mime:
                data = self.parse_json(await request.get_body())
                if isinstance(data, dict):
                    query = data.get("query")
                    variables = data.get("variables")
                    extensions = data.get("extensions")
                    if (
                        isinstance(query, (str, type(None)))
                        and isinstance(variables, (dict, type(None)))
                        and isinstance(extensions, (dict, type(None)))
                    ):
                        return GraphQLRequestData(
                            query=query,
                            variables=variables,
                            operation_name=data.get("operationName"),
                            extensions=extensions,
                        )
        return await super().parse_http_body(request)  # its refusals, batches, GET

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = self.decode_json(data)
        except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, absurd nesting
            raise HTTPException(400, "The request body is not valid JSON.") from None
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(
                400, 'The request body must be a JSON object, like {"query": "{ me { id } }"}.'
            )
        return parsed


# Clients send one or two distinct content types; parsing one takes an email.message.
_content_type = lru_cache(maxsize=64)(parse_content_type)


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime
