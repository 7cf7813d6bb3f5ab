"""The backend contract on the local backend: an index directory (rag.index.store)."""

from __future__ import annotations

import pytest

from ..conftest import backend_config
from ..support.backend_contract import BackendContract


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend(self, config, tmp_path):
        return backend_config(config, "local", tmp_path)

    def another_store(self, backend, name):
        return backend.replace(index_dir=backend.index_dir.parent / name / "index")
