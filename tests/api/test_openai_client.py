"""The OpenAI-compatible routes through the official `openai` client, httpx and curl: answers
with their citations as data, streamed or not, follow-ups that use the earlier messages."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

from ..support.api import start_api, stop_api

QUESTION = "When was the IMU first formed?"


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module, keys={"reader": ("reader", None)},
                     extra_collections=("team-a",))
    yield live
    stop_api(live)


@pytest.fixture(scope="module")
def client(live):
    from openai import OpenAI

    return OpenAI(base_url=live.api, api_key=live.keys["reader"], max_retries=0, timeout=60)


def article_text(live) -> str:
    r = httpx.get(f"{live.api}/collections/default/documents/imu-pakistan-2014.txt", headers=live.headers("reader"))
    r.raise_for_status()
    return r.json()["text"]


def test_models_lists_one_model_per_collection(client):
    assert sorted(m.id for m in client.models.list()) == ["rag/default", "rag/team-a"]


def test_a_completion_answers_with_its_citations_as_data(client, live):
    reply = client.chat.completions.create(model="rag/default", messages=[{"role": "user", "content": QUESTION}])
    text = reply.choices[0].message.content
    assert "1990s" in text and "[1]" in text
    citations = reply.model_extra["citations"]
    assert citations and {"marker", "doc_id", "title", "quote", "start", "end", "page", "url"} <= set(citations[0])
    first = citations[0]
    assert article_text(live)[first["start"]:first["end"]] == first["quote"]
    assert reply.choices[0].finish_reason == "stop" and reply.model == "rag/default"


def test_a_stream_sends_the_answer_in_chunks_and_the_citations_on_the_last(client):
    chunks = list(client.chat.completions.create(model="rag/default", stream=True,
                                                 messages=[{"role": "user", "content": QUESTION}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "1990s" in text and "[1]" in text
    assert len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"][0]["marker"] == 1
    assert all("citations" not in c.model_extra for c in chunks[:-1])


def test_the_raw_stream_ends_with_done(live):
    with httpx.stream("POST", f"{live.api}/chat/completions", headers=live.headers("reader"), timeout=60,
                      json={"model": "rag/default", "stream": True,
                            "messages": [{"role": "user", "content": QUESTION}]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_a_follow_up_uses_the_earlier_messages(client):
    first = "When was the IMU first formed?"
    earlier = client.chat.completions.create(model="rag/default", messages=[{"role": "user", "content": first}])
    reply = client.chat.completions.create(model="rag/default", messages=[
        {"role": "user", "content": first},
        {"role": "assistant", "content": earlier.choices[0].message.content},
        {"role": "user", "content": "Where were its founders based?"}])
    assert "Afghanistan" in reply.choices[0].message.content
    assert reply.model_extra["citations"]


def test_an_unknown_model_is_404_model_not_found(client):
    import openai

    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="rag/nowhere", messages=[{"role": "user", "content": QUESTION}])
    assert caught.value.code == "model_not_found"
    assert caught.value.body["type"] == "not_found_error"


def test_temperature_and_max_tokens_are_ignored_with_a_note(client):
    reply = client.chat.completions.create(model="rag/default", temperature=0.9, max_tokens=5,
                                           messages=[{"role": "user", "content": QUESTION}])
    notes = reply.model_extra["rag"]["notes"]
    assert any("temperature" in n for n in notes) and any("max_tokens" in n for n in notes)
    assert "1990s" in reply.choices[0].message.content  # not cut to 5 tokens


def test_curl_gets_a_completion(live):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    body = json.dumps({"model": "rag/default", "messages": [{"role": "user", "content": QUESTION}]})
    out = subprocess.run(["curl", "-sS", "--fail-with-body", f"{live.api}/chat/completions",
                          "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {live.keys['reader']}",
                          "-d", body], capture_output=True, text=True, timeout=60, check=True)
    reply = json.loads(out.stdout)
    assert reply["object"] == "chat.completion" and reply["citations"]
