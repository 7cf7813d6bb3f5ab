"""The API key goes only where the operator allowed, and never comes back out: a local endpoint
repeats the Authorization header in every field it can (error bodies, stream error events, the
answer itself, split across stream events), and no output, log or report may hold any of it."""

from __future__ import annotations

import json
import logging
import shutil
from http.server import BaseHTTPRequestHandler

import pytest

from rag.app import factory
from rag.cli import main
from rag.core.config import Config
from rag.core.errors import ConfigError, RagError
from rag.core.records import Answer

from ..conftest import ARTICLE
from ..support.endpoints import LocalEndpoint, servers_of, sse

# Long enough that a 160-character cut lands inside it; "S3CRETKEY" is what no output may hold.
KEY = "sk-test-" + "S3CRETKEY" * 8
LEAK = "S3CRETKEY"
PAD = "x" * 70  # puts the echoed key across the point where one-line messages are cut
SUPPORTED = "The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan"


class KeyEchoServer(LocalEndpoint):
    """An OpenAI-compatible endpoint that repeats the request's Authorization header back.

    `error:CODE` - an error body holding it; `stream-error` - an error event in the stream holding it;
    `answer` - a streamed answer holding it in a supported sentence and an unsupported one, the
    header split across stream events."""

    def __init__(self, action: str):
        self.action = action
        self.requests: list[dict] = []
        super().__init__()

    def on_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        self.requests.append({"headers": {k.lower(): v for k, v in h.headers.items()},
                              "body": json.loads(body or b"{}")})
        self.reply(h, h.headers.get("authorization", ""))

    def reply(self, h: BaseHTTPRequestHandler, auth: str) -> None:
        if self.action.startswith("error:"):
            h.send_response(int(self.action.split(":")[1]))
            h.send_header("content-type", "application/json")
            h.send_header("Retry-After", "0")
            h.end_headers()
            h.wfile.write(json.dumps({"error": {"message": f"{PAD} invalid credentials: {auth}"}}).encode())
            return
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.end_headers()
        if self.action == "stream-error":
            h.wfile.write(f"data: {json.dumps({'error': {'message': f'{PAD} rejected {auth}'}})}\n\n".encode())
            return
        text = (f"{SUPPORTED} ({auth}) [1]. Your key {auth} is safe with us [1]. "
                f"The IMU was formed in the late 1990s, key {auth[7:]} [1].")
        middle = text.index(auth) + len(auth) // 2
        h.wfile.write(sse(text[:middle], text[middle:middle + 5], text[middle + 5:]))  # the key split in three

    def received_key(self) -> bool:
        return any(r["headers"].get("authorization") == f"Bearer {KEY}" for r in self.requests)


@pytest.fixture
def echo():
    with servers_of(KeyEchoServer) as start:
        yield start


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("RAG_MAX_RETRIES", "1")  # one retry: a retry logs the endpoint's words
    return KEY


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert LEAK not in text and KEY not in text


# --- the command line, its JSON, its log, and eval reports ---

@pytest.mark.parametrize("action, shown", [("error:500", "HTTP 500"), ("stream-error", "failed")])
@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_a_key_cut_by_truncation_is_still_masked_in_errors_and_the_log(echo, api_key, shared_model, article_index,
                                                                       capsys, caplog, action, shown, verbose):
    server = echo(action)
    with caplog.at_level(logging.DEBUG):
        code = main([*verbose, "ask", "When was the IMU formed?", "--generator", "openai", "--base-url", server.url,
                     "--index", str(article_index)])
    out, err = capsys.readouterr()
    assert server.received_key(), "the key was sent to the configured endpoint, which echoed it"
    assert code == 1 and shown in err.strip().splitlines()[-1] and "Traceback" not in err
    assert_no_key(out, err, caplog.text)


@pytest.mark.parametrize("before, after", [([], ["--json"]), (["-v"], []), ([], [])])
def test_a_key_in_the_answer_never_reaches_the_answer_notes_or_json(echo, api_key, shared_model, article_index,
                                                                    capsys, caplog, before, after):
    server = echo("answer")
    with caplog.at_level(logging.DEBUG):
        code = main([*before, "ask", "When was the IMU first formed?", "--generator", "openai",
                     "--base-url", server.url, "--index", str(article_index), *after])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert server.received_key()
    assert "late 1990s" in out and "***" in out, "the supported sentence is kept, its key masked"
    if after == ["--json"]:
        notes = json.loads(out)["notes"]
        assert any("safe with us" in n for n in notes), "the dropped sentence is noted"
        assert "***" in " ".join(notes)
    if before == ["-v"]:
        assert "note: removed a sentence" in err
    assert_no_key(out, err, caplog.text)


def test_streamed_chunks_never_carry_the_key_even_when_it_is_split_across_events(echo, api_key, article_index,
                                                                                 embedder, caplog):
    from rag.app.service import ChatService

    server = echo("answer")
    service = ChatService(Config(index_dir=article_index, openai_base_url=server.url), embedder=embedder)
    with caplog.at_level(logging.DEBUG):
        events = list(service.ask_stream("When was the IMU first formed?", [], "openai", 3))
    *chunks, final = events
    assert isinstance(final, Answer) and all(isinstance(c, str) for c in chunks) and len(chunks) >= 2
    streamed = "".join(chunks)
    assert "late 1990s" in streamed and "Bearer ***" in streamed
    assert_no_key(streamed, *chunks, final.text, *final.notes, json.dumps(final.to_dict()), caplog.text)


def test_a_key_in_a_verified_sentence_never_reaches_eval_reports(echo, api_key, shared_model, article_index,
                                                                 tmp_path, monkeypatch, capsys):
    server = echo("answer")
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", server.url)
    monkeypatch.chdir(tmp_path)
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text(json.dumps({"id": "q1", "question": "When was the IMU first formed?",
                                   "answers": ["late 1990s"], "answerable": True,
                                   "doc_ids": ["imu-pakistan-2014.txt"]}) + "\n", encoding="utf-8")
    out_dir = tmp_path / "report"
    code = main(["eval", str(dataset), "--generator", "openai", "--index", str(article_index), "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert server.received_key()
    rows = (out_dir / "questions.jsonl").read_text(encoding="utf-8")
    assert "late 1990s" in rows and "***" in rows, "the verified sentence is reported, its key masked"
    assert_no_key(out, err, *(p.read_text(encoding="utf-8") for p in out_dir.iterdir() if p.suffix != ".png"))


# --- where the key may go ---

def test_the_allow_list_defaults_to_the_configured_endpoint_and_takes_more_from_the_environment(monkeypatch):
    from rag.safety.endpoints import allowed_endpoints, check_endpoint

    config = Config(openai_base_url="https://api.openai.com/v1/")
    assert allowed_endpoints(config) == ["https://api.openai.com/v1"]
    assert check_endpoint(config, "HTTPS://API.openai.com/v1") == "HTTPS://API.openai.com/v1"
    with pytest.raises(RagError, match=r"http://evil.example/v1.*https://api.openai.com/v1.*"
                                                      r"openai_allowed_base_urls"):
        check_endpoint(config, "http://evil.example/v1")
    with pytest.raises(RagError):  # a look-alike is not the configured host
        check_endpoint(config, "https://api.openai.com.evil.example/v1")
    monkeypatch.setenv("RAG_OPENAI_ALLOWED_BASE_URLS", "http://127.0.0.1:8080/v1, http://gpu-box:8000/v1")
    config = Config.load()
    assert allowed_endpoints(config) == [config.openai_base_url, "http://127.0.0.1:8080/v1", "http://gpu-box:8000/v1"]
    assert check_endpoint(config, "http://gpu-box:8000/v1/") == "http://gpu-box:8000/v1/"
    monkeypatch.setenv("RAG_OPENAI_ALLOWED_BASE_URLS", "gpu-box:8000")
    with pytest.raises(ConfigError, match="openai_allowed_base_urls.*not an http"):
        Config.load()


def test_the_service_refuses_an_endpoint_the_operator_did_not_allow(echo, api_key, article_index, embedder):
    from rag.app.service import ChatService

    allowed, stranger = echo("answer"), echo("answer")
    service = ChatService(Config(index_dir=article_index, openai_base_url=allowed.url), embedder=embedder)
    with pytest.raises(RagError, match=f"does not send its API key to '{stranger.url}'.*{allowed.url}"):
        list(service.ask_stream("When was the IMU first formed?", [], "openai", 3, stranger.url))
    assert stranger.requests == [], "the stranger never saw a request, let alone the key"
    events = list(service.ask_stream("When was the IMU first formed?", [], "openai", 3, allowed.url))
    assert "late 1990s" in events[-1].text and allowed.received_key()


@pytest.fixture
def served(tmp_path, embedder, echo, api_key):
    """`rag serve` (in this process) over a copy of the article, its hosted endpoint a key-echoing
    server; `stranger` is another server that nobody allowed."""
    from rag.app.service import ChatService
    from rag.generators.local_server import free_port
    from ui.app import serve

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    allowed, spare, stranger = echo("answer"), echo("answer"), echo("answer")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", openai_base_url=allowed.url,
                    openai_allowed_base_urls=(spare.url,))
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    service = ChatService(config, embedder=embedder)
    port = free_port()
    app = serve(config, port=port, block=False, service=service)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "allowed": allowed, "spare": spare, "stranger": stranger,
               "config": config, "service": service}
    finally:
        app.close()


def chat(url: str, question: str, generator: str, base_url: str) -> tuple[str, str]:
    """The last chat message and the sources panel after one question through the page's /chat."""
    from gradio_client import Client

    history, sources, _ = Client(url, verbose=False).predict(question, [], generator, 3, base_url, "m",
                                                             api_name="/chat")
    content = history[-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return text, sources if isinstance(sources, str) else json.dumps(sources)


def test_the_page_offers_only_allowed_endpoints_and_refuses_a_typed_one(served, caplog):
    import urllib.request

    with urllib.request.urlopen(served["url"] + "config", timeout=10) as r:
        page = json.load(r)
    (dropdown,) = [c for c in page["components"] if c.get("props", {}).get("elem_id") == "base-url"]
    offered = [choice[1] if isinstance(choice, list) else choice for choice in dropdown["props"]["choices"]]
    assert offered == [served["allowed"].url, served["spare"].url]

    with caplog.at_level(logging.DEBUG):
        refused, panel = chat(served["url"], "When was the IMU first formed?", "openai", served["stranger"].url)
        answered, _ = chat(served["url"], "When was the IMU first formed?", "openai", served["spare"].url)
    assert refused.startswith("⚠") and "does not send its API key" in refused
    assert served["allowed"].url in refused and served["spare"].url in refused, "the refusal lists the choices"
    assert "does not send its API key" in panel
    assert served["stranger"].requests == [], "a typed URL never receives the key"
    assert served["spare"].received_key() and "late 1990s" in answered
    assert_no_key(refused, answered, panel, caplog.text)


def test_the_ask_api_says_why_an_argument_is_wrong_and_returns_numbers(served):
    from gradio_client import Client

    client = Client(served["url"], verbose=False)
    result = client.predict("When was the IMU first formed?", 3, api_name="/ask")
    assert result["citations"] and all(type(c["support"]) is float for c in result["citations"])
    for k, reason in [(0, "k must be at least 1"), (-2, "k must be at least 1"), (2.5, "k must be a whole number"),
                      ("3", "k must be a whole number")]:
        with pytest.raises(Exception, match=reason):
            client.predict("When was the IMU first formed?", k, api_name="/ask")


# --- a re-index from outside: the same checks as a load ---

def publish_as_built_by(index_dir, model: str) -> None:
    """What `rag index` with another embedding model publishes: a new version, made live."""
    from rag.index.store import IndexStore

    store = IndexStore(index_dir)
    live = store.current_path()
    version = live.parent / f"v9{live.name[1:]}"
    shutil.copytree(live, version)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["embedder"]["name"] = model
    (version / "manifest.json").write_text(json.dumps(manifest))
    (index_dir / "CURRENT").write_text(version.name + "\n")


def test_a_refresh_to_an_incompatible_version_keeps_answering_from_the_last_good_one(article_index, tmp_path,
                                                                                   embedder, config, caplog):

    index = shutil.copytree(article_index, tmp_path / "index")
    retriever = factory.retriever(config, index, embedder=embedder)
    loaded = retriever.snapshot.path
    publish_as_built_by(index, "sentence-transformers/all-mpnet-base-v2")
    with caplog.at_level(logging.WARNING):
        assert retriever.refresh() is False
        assert retriever.refresh() is False  # not re-read, not re-logged on every question
    assert retriever.snapshot.path == loaded
    assert "late 1990s" in retriever.search("When was the IMU first formed?", 1)[0].text
    assert "embedding model" in retriever.refresh_problem and "rag index --rebuild" in retriever.refresh_problem
    assert len([r for r in caplog.records if "not loaded" in r.getMessage()]) == 1


def test_the_page_and_the_api_say_why_a_new_index_version_is_not_used(served):
    from gradio_client import Client

    publish_as_built_by(served["config"].index_dir, "sentence-transformers/all-mpnet-base-v2")
    answer, panel = chat(served["url"], "When was the IMU first formed?", "extractive", "")
    assert "late 1990s" in answer
    assert "not loaded" in panel and "embedding model" in panel
    result = Client(served["url"], verbose=False).predict("When was the IMU first formed?", 3, api_name="/ask")
    assert "late 1990s" in result["answer"] and "not loaded" in result["notice"]


def test_the_ask_api_answers_from_a_version_published_after_start(served, embedder):
    from gradio_client import Client


    config = served["config"]
    (config.corpus_dir / "harbour.md").write_text("# Harbour notes\n\nThe Kilwa harbour master is Amina Said.")
    factory.indexer(config, embedder).index_paths([config.corpus_dir], config.index_dir)  # another process, as it were
    result = Client(served["url"], verbose=False).predict("Who is the Kilwa harbour master?", 3, api_name="/ask")
    assert "Amina Said" in result["answer"]


# --- memory: generators (and their HTTP clients) are bounded ---

def test_the_generator_cache_is_bounded_and_closes_what_it_evicts(echo, api_key, article_index, embedder):
    from rag.app.service import MAX_GENERATORS, ChatService

    server = echo("answer")
    service = ChatService(Config(index_dir=article_index, openai_base_url=server.url), embedder=embedder)
    made = [service.pipeline("openai", server.url, f"model-{i}").generator for i in range(MAX_GENERATORS + 5)]
    assert len(service.generators) == MAX_GENERATORS
    assert all(g._client.is_closed() for g in made[:5]), "evicted clients release their connections"
    assert not any(g._client.is_closed() for g in made[5:])
    again = service.pipeline("openai", server.url, f"model-{MAX_GENERATORS + 4}").generator
    assert again is made[-1], "a recent one is reused, not rebuilt"


def test_a_generator_evicted_while_answering_is_closed_only_when_the_answer_ends():
    from rag.app.service import GeneratorCache

    class Gen:
        closed = False

        def close(self):
            self.closed = True

    cache = GeneratorCache(size=1)
    first = cache.acquire(("a",), Gen)
    second = cache.acquire(("b",), Gen)  # evicts the first while it is still answering
    assert len(cache) == 1 and not first.closed
    cache.release(first)
    assert first.closed and not second.closed
    cache.release(second)
    assert not second.closed, "still cached"
