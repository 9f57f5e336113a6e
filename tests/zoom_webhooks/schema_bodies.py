"""Bodies built from Zoom's webhook schemas: the least each one requires, or everything."""

from __future__ import annotations

import json
from typing import Any

from tests.zoom_webhooks.deliveries import SPECS

INSTANT = "2026-03-02T10:00:00Z"


def event_schema(event: str) -> dict[str, Any]:
    """The request body schema of an event, from the Meetings or the Marketplace spec."""
    for spec in ("meetings.webhooks.json", "marketplace.webhooks.json"):
        webhooks = json.loads((SPECS / "api-hub" / spec).read_text())["webhooks"]
        if event in webhooks:
            schema: dict[str, Any] = webhooks[event]["post"]["requestBody"]["content"][
                "application/json"
            ]["schema"]
            return schema
    raise LookupError(event)


def body_of(schema: dict[str, Any], *, everything: bool, name: str = "") -> Any:
    """A value the schema accepts: with only the required properties, or with all."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        properties = schema.get("properties", {})
        wanted = properties if everything else schema.get("required", [])
        return {
            key: body_of(properties[key], everything=everything, name=key)
            for key in wanted
            if key in properties
        }
    if kind == "array":
        return [body_of(schema.get("items", {}), everything=everything, name=name)]
    if kind == "integer":
        return 1626230691572 if name == "event_ts" else 1234567890
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time" or r"\d{4}-\d{2}" in schema.get("pattern", ""):
        return INSTANT
    if schema.get("format") == "email":
        return "someone@example.com"
    if "url" in name:
        return f"https://zoom.example/{name}"
    return f"{name or 'text'}-value"
