"""An API server with the Zoom webhooks' Secret Token, for this package's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import serve
from tests.zoom_webhooks.deliveries import SECRET


@pytest.fixture(scope="package")
def zoom_api(test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**test_env, "SPECIALISTLY_ZOOM_WEBHOOK_SECRET_TOKEN": SECRET}
    yield from serve(env, tmp_path_factory.mktemp("zoom-api"), "zoom-api")
