"""The chat page's parts without a browser: cancelling a streamed answer, the stored conversations,
the bubble HTML, page wording and the language note."""

from __future__ import annotations

import time

import pytest

from ..support.endpoints import SlowEndpoint


@pytest.fixture
def endpoint():
    with SlowEndpoint() as server:
        yield server


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_closing_an_answer_stream_cancels_the_hosted_request(endpoint, retriever):
    from rag.app.pipeline import Pipeline
    from rag.generators.openai_compatible import OpenAICompatibleGenerator

    endpoint.delay = 0.5  # forty words: twenty seconds if nobody hangs up
    generator = OpenAICompatibleGenerator(base_url=endpoint.url, model="m")
    stream = Pipeline(retriever, generator).ask_stream("When was the IMU first formed?")
    assert isinstance(next(stream), str) and isinstance(next(stream), str)
    stream.close()  # what the page does on Stop
    assert wait_for(lambda: endpoint.disconnected, 5.0), "the endpoint kept generating for nobody"
    assert endpoint.finished == 0


def test_a_stored_conversation_is_trusted_only_as_far_as_it_is_well_formed():
    from ui.conversations import add_turn, clean_store, current, empty_store, history, start_new

    assert clean_store(None) == empty_store()
    assert clean_store({"conversations": "nope"}) == empty_store()
    store = clean_store({"current": "a", "conversations": [
        {"id": "a", "title": "T" * 500, "turns": [{"question": "q1", "answer": "a1 [1]", "status": "weird",
                                                   "sources": [{"doc_id": "d"}, "junk"]},
                                                  {"question": "q2", "answer": "⚠ down", "status": "error"},
                                                  "junk"]},
        {"id": 7, "turns": []}, "junk"]})
    (conv,) = store["conversations"]
    assert len(conv["title"]) == 60 and [t["status"] for t in conv["turns"]] == ["done", "error"]
    assert conv["turns"][0]["sources"] == [{"doc_id": "d"}]
    assert history(current(store)) == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1 [1]"}]

    start_new(store)
    add_turn(store, {"question": "a new one", "answer": "", "status": "done", "sources": []})
    assert [c["title"] for c in store["conversations"]] == ["a new one", "T" * 60]


def test_each_tab_gets_a_fresh_session_that_no_load_event_replaces():
    """A callable initial value is called by a load event of Gradio's own, which raced `restore`:
    the conversations restored after a reload went into a session that was then replaced, and the
    list emptied at the first click. The initial value is a template each tab deep-copies instead."""
    import copy

    import gradio as gr

    from ui.chat import ChatSession, build_chat

    with gr.Blocks() as app:
        view = build_chat(storage_secret="s")
    template = view.session.value
    assert not callable(template)
    one, other = copy.deepcopy(template), copy.deepcopy(template)
    assert isinstance(one, ChatSession) and one is not other and one.store is not other.store
    assert not [fn for fn in app.fns.values() if view.session in fn.outputs]


def test_bubbles_escape_everything_and_link_only_real_citations():
    from ui.render import answer_html, messages, sources_panel

    turn = {"question": "<b>q</b>", "answer": 'He is <img src=x onerror="alert(1)"> here [1] and [2].',
            "status": "done", "sources": [{"doc_id": "<d>", "title": "<i>t</i>", "start": 0, "end": 9, "score": 0.5,
                                           "text": "<script>x</script>", "markers": [1], "spans": [[0, 8]]}]}
    html = answer_html(turn, 3)
    assert "<img" not in html and "&lt;img src=x" in html
    assert '<a class="rag-cite" href="#rag-src-3-1">[1]</a>' in html and "[2]." in html  # [2] cites nothing
    user, _ = messages([turn])
    assert user["content"] == "&lt;b&gt;q&lt;/b&gt;"
    panel = sources_panel([turn])
    assert "<script>" not in panel and "<i>" not in panel and 'id="rag-src-0-1"' in panel
    assert "<mark>&lt;script&gt;</mark>" in panel


def test_errors_in_the_page_name_settings_not_command_line_flags():
    from rag.core.errors import ConfigError, IndexCorruptError
    from ui.chat import check_endpoint, page_message

    with pytest.raises(ConfigError, match="is not a URL"):
        check_endpoint("htp:/broken")
    check_endpoint("http://127.0.0.1:8080/v1")
    message = page_message(ConfigError("OPENAI_API_KEY is not set; export it with your API key for api.x.com, "
                                       "or choose --generator extractive"))
    assert "--" not in message and '"extractive" generator in Settings' in message
    message = page_message(IndexCorruptError("x is not valid JSON; rebuild with `rag index --rebuild --index /i`"))
    assert message == "x is not valid JSON; the index must be rebuilt on the server"


@pytest.mark.parametrize(("question", "language"), [
    ("When was the IMU first formed?", "English"),
    ("Was the IMU based in North Waziristan?", "English"),
    ("Who is the Zanzibar lighthouse keeper?", "English"),
    ("¿Cuándo se formó el IMU por primera vez?", "Spanish"),
    ("Wann wurde die IMU gegründet?", "German"),
    ("Quand l'IMU a-t-elle été fondée ?", "French"),
    ("Когда было создано ИДУ?", "another language"),
])
def test_questions_in_other_languages_are_recognised(question, language):
    from rag.text.language import language_note, question_language

    assert question_language(question) == language
    assert bool(language_note(question)) == (language != "English")


@pytest.mark.llm
def test_closing_a_local_model_stream_cancels_the_generation(retriever):
    pytest.importorskip("xllamacpp")
    import json
    import urllib.request

    from rag.app.pipeline import Pipeline
    from rag.generators.llama_cpp import LlamaCppGenerator, LlamaCppSettings

    generator = LlamaCppGenerator(LlamaCppSettings(threads=1, answer_tokens=300))
    server = generator._load()

    def busy() -> bool:
        with urllib.request.urlopen(f"{server.listening_address}/slots", timeout=10) as r:
            return any(slot.get("is_processing") for slot in json.load(r))

    stream = Pipeline(retriever, generator).ask_stream("Tell everything the passages say about the IMU.")
    assert isinstance(next(stream), str) and isinstance(next(stream), str)  # words arrive as they are made
    assert busy()
    stream.close()
    assert wait_for(lambda: not busy(), 5.0), "the local model kept generating for nobody"
