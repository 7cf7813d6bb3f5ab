"""Without a key file: /v1 serves this machine's programs when the server is bound to loopback,
refuses another site's page even there, and is closed when the server is reachable from others."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rag.api.app import build_api
from rag.api.auth import AccessPolicy
from rag.api.limits import RateLimiter
from rag.app.access import KeyStore
from rag.app.slots import AnswerSlots


class OneCollection:
    def names(self) -> list[str]:
        return ["default"]

    def exists(self, name: str) -> bool:
        return name == "default"


def api(tmp_path, *, loopback: bool) -> TestClient:
    policy = AccessPolicy(KeyStore(tmp_path / "api-keys.json"), open_local=loopback, limiter=RateLimiter(0),
                          slots=AnswerSlots(1))
    return TestClient(build_api(OneCollection(), policy, max_request_bytes=1024))


def test_on_loopback_v1_is_open_to_this_machine(tmp_path):
    r = api(tmp_path, loopback=True).get("/models")
    assert r.status_code == 200 and r.json()["data"][0]["id"] == "rag/default"


def test_another_sites_page_is_refused_even_on_loopback(tmp_path):
    r = api(tmp_path, loopback=True).get("/models", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site"


def test_reachable_from_others_v1_is_closed_until_a_key_exists(tmp_path):
    client = api(tmp_path, loopback=False)
    r = client.get("/models")
    assert r.status_code == 401 and "rag keys create" in r.json()["error"]["message"]
    key, _ = KeyStore(tmp_path / "api-keys.json").create("reader")
    assert client.get("/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
