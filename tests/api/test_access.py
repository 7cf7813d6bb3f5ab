"""Who may do what through /v1: keys, roles, collections a key cannot see (404, never 403),
revocation that takes effect at once, rate limits, and keys that never reach a log or an error."""

from __future__ import annotations

import httpx
import pytest

from rag.app.access import KeyStore, keys_path

from ..support.api import start_api, stop_api


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module, extra_collections=("team-a", "team-b"),
                     rate_limit=20,
                     keys={"reader": ("reader", None), "editor": ("editor", None), "team-a": ("reader", ["team-a"]),
                           "doomed": ("reader", None), "burst": ("reader", None)})
    yield live
    stop_api(live)


def test_no_key_is_401_in_openai_shape(live):
    r = httpx.get(f"{live.api}/models")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error" and r.headers["www-authenticate"] == "Bearer"


def test_a_wrong_key_is_401_and_the_error_does_not_echo_it(live):
    wrong = live.keys["reader"][:-4] + "AAAA"
    r = httpx.get(f"{live.api}/models", headers={"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 401 and wrong not in r.text


def test_a_reader_cannot_upload(live):
    r = httpx.post(f"{live.api}/collections/default/documents", headers=live.headers("reader"),
                   files={"files": ("a.txt", b"The sky is green here.")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"


def test_a_key_for_one_collection_cannot_see_another_404_not_403(live):
    h = live.headers("team-a")
    assert [m["id"] for m in httpx.get(f"{live.api}/models", headers=h).json()["data"]] == ["rag/team-a"]
    hidden = httpx.get(f"{live.api}/collections/team-b/documents", headers=h)
    absent = httpx.get(f"{live.api}/collections/team-z/documents", headers=h)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["error"]["code"] == absent.json()["error"]["code"] == "collection_not_found"
    chat = httpx.post(f"{live.api}/chat/completions", headers=h,
                      json={"model": "rag/default", "messages": [{"role": "user", "content": "IMU?"}]})
    assert chat.status_code == 404 and chat.json()["error"]["code"] == "model_not_found"
    search = httpx.post(f"{live.api}/search", headers=h, json={"query": "IMU", "collection": "team-b"})
    assert search.status_code == 404


def test_a_revoked_key_stops_working_at_once(live):
    h = live.headers("doomed")
    assert httpx.get(f"{live.api}/models", headers=h).status_code == 200
    KeyStore(keys_path(live.config)).revoke(live.ids["doomed"])  # what `rag keys revoke` does
    assert httpx.get(f"{live.api}/models", headers=h).status_code == 401


def test_a_key_in_the_url_is_refused(live):
    r = httpx.get(f"{live.api}/models", params={"api_key": live.keys["reader"]}, headers=live.headers("reader"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "key_in_url"
    assert live.keys["reader"] not in r.text


def test_the_rate_limit_answers_429_with_retry_after(live):
    h = live.headers("burst")
    codes = [httpx.get(f"{live.api}/models", headers=h) for _ in range(21)]
    assert [r.status_code for r in codes[:20]] == [200] * 20
    assert codes[20].status_code == 429
    assert int(codes[20].headers["retry-after"]) >= 1
    assert codes[20].json()["error"]["type"] == "rate_limit_exceeded"
    assert httpx.get(f"{live.api}/models", headers=live.headers("reader")).status_code == 200  # per key


def test_no_key_appears_in_the_server_log(live):
    # Requests that fail, and one whose key is in the URL, are what a log would be likeliest to keep.
    httpx.get(f"{live.api}/models?token={live.keys['editor']}")
    httpx.post(f"{live.api}/chat/completions", headers=live.headers("editor"), json={"model": 1})
    logged = "\n".join(live.log)
    for key in live.keys.values():
        assert key not in logged
        assert key.split("_")[-1] not in logged
