"""One live `rag serve` (page and /v1 on one loopback port) per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp
