"""Lists accept at most `page_size_max` items a page, whatever it is set to."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from specialistly.api.context import Context
from specialistly.api.schema import build_schema
from specialistly.runtime import Runtime

SPECIALISTS = "query ($first: Int!) { specialists(first: $first) { totalCount } }"


async def test_lists_accept_pages_up_to_the_page_size_setting(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"page_size_max": 60})
    limited = dataclasses.replace(runtime, settings=settings)
    schema = build_schema(limited.plugins, settings)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})

    async def specialists(first: int) -> list[str]:
        context = Context(runtime=limited, connection=connection, bearer=None)
        result = await schema.execute(SPECIALISTS, {"first": first}, context_value=context)
        return [error.message for error in result.errors or ()]

    assert await specialists(60) == []
    assert await specialists(61) == ["first must be between 1 and 60."]
