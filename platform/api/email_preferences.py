"""Email preferences in GraphQL, and the page behind every unsubscribe link.

``GET /email/unsubscribe?token=...`` shows a page with one button, so that a link scanner
following the link changes nothing; the button, and a mail client's RFC 8058 one-click
``POST`` to the same address, turn that kind of email off.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import strawberry
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.errors import UserError
from specialistly.api.transport import runtime_of
from specialistly.features import email_preferences as prefs
from specialistly.hookspecs import GraphQLContribution, hookimpl

_WHAT = {prefs.EmailKind.REMINDERS: "reminders", prefs.EmailKind.REVIEW_REQUESTS: "review requests"}


@strawberry.type(name="EmailPreferences", description="Which optional emails the viewer gets.")
class EmailPreferencesType:
    reminders: bool = strawberry.field(description="Reminders before each booking.")
    review_requests: bool = strawberry.field(description="Requests for a review afterwards.")

    @classmethod
    def of(cls, found: prefs.EmailPreferences) -> EmailPreferencesType:
        return cls(reminders=found.reminders, review_requests=found.review_requests)


@strawberry.input
class EmailPreferencesInput:
    reminders: bool | None = None
    review_requests: bool | None = None


@strawberry.type
class EmailPreferencesPayload:
    preferences: EmailPreferencesType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's choice of optional emails.")
    async def email_preferences(self, info: Info[Context, None]) -> EmailPreferencesType:
        user = await info.context.require_user()
        assert user.id is not None
        return EmailPreferencesType.of(await prefs.preferences_of(user.id))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Turn optional emails on or off; omitted ones stay.")
    async def update_email_preferences(
        self, info: Info[Context, None], input: EmailPreferencesInput
    ) -> EmailPreferencesPayload:
        user = await info.context.require_user()
        assert user.id is not None
        changes = {
            kind: wanted
            for kind, wanted in (
                (prefs.EmailKind.REMINDERS, input.reminders),
                (prefs.EmailKind.REVIEW_REQUESTS, input.review_requests),
            )
            if wanted is not None
        }
        found = await prefs.set_preferences(user.id, changes)
        return EmailPreferencesPayload(preferences=EmailPreferencesType.of(found))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body style='font-family:sans-serif;max-width:32em;margin:3em auto'>"
        f"<h1>{title}</h1>{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status)


async def unsubscribe(request: Request) -> Response:
    runtime = runtime_of(request)
    token = request.query_params.get("token", "")
    found = prefs.read_unsubscribe_token(runtime.settings, token)
    if found is None:
        return _page("This link is not valid", "<p>It may have been cut short.</p>", 400)
    user_id, kind = found
    what = _WHAT[kind]
    if request.method == "GET":
        action = html.escape(f"{prefs.UNSUBSCRIBE_PATH}?token={token}", quote=True)
        form = (
            f"<form method='post' action='{action}'>"
            f"<button type='submit'>Stop {what}</button></form>"
        )
        return _page(f"Stop {what}?", f"<p>You will no longer get {what} by email.</p>{form}")
    await prefs.set_preferences(user_id, {kind: False})
    return _page("Unsubscribed", f"<p>You will no longer get {what} by email.</p>")


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)


@hookimpl
def http_routes() -> Sequence[BaseRoute]:
    return [Route(prefs.UNSUBSCRIBE_PATH, unsubscribe, methods=["GET", "POST"])]
