"""One live `rag serve` (page and /v1 on one loopback port) per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def browser():
    from ..ui.conftest import browser as page_browser

    yield from page_browser.__wrapped__()
