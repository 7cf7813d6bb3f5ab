"""The page's defences without a browser: document data shown as text (no Markdown, no markup, no
reordering controls), a removal that names one document, the upload cache, the login throttle,
the origin check, the warning for a server others can reach, and bad calls cut to one line."""

from __future__ import annotations

import os
import time

import pytest

from rag.app.web import DocumentInfo

HOSTILE_TITLE = "![x](http://127.0.0.1:9/pixel.png) [click](http://127.0.0.1:9/) <img src=x> \u202etxt.exe"


def test_the_removal_question_shows_a_title_as_text_not_markdown_or_markup():
    from ui.documents import confirmation_html

    html = confirmation_html(DocumentInfo(id="uploads/notes.md", title=HOSTILE_TITLE, source=""))
    assert "<img" not in html and "<a" not in html and "&lt;img src=x&gt;" in html
    assert "![x](http://127.0.0.1:9/pixel.png)" in html  # shown as typed, nothing fetched
    assert "\u202e" not in html and "Its uploaded file is deleted too." in html


def test_document_text_reaches_the_page_without_controls_that_reorder_it():
    from ui import conversations as convs
    from ui.documents import _choices, library_html
    from ui.render import answer_html, sources_panel

    rlo = "He said \u202e“olleh”\u202c and \u2066left\u2069 \u200fthere"
    doc = DocumentInfo(id="a\u202eb.txt", title=rlo, source="")
    turn = {"question": rlo, "answer": rlo, "status": "done",
            "sources": [{"doc_id": "a\u202eb.txt", "title": rlo, "start": 0, "end": len(rlo), "score": 0.5,
                         "text": rlo, "markers": [1], "spans": [[8, 18]], "section": rlo, "date": ""}]}
    store = convs.empty_store()
    convs.add_turn(store, dict(turn))
    for shown in (library_html([doc]), _choices([doc])[0][0], answer_html(turn), sources_panel([turn]),
                  convs.choices(store)[0][0]):
        assert not any(ch in shown for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "<mark>“olleh”" in sources_panel([turn])  # the highlight still covers the quoted words


@pytest.mark.parametrize("value", [["uploads/a.md", "uploads/b.md"], 7, {"id": "x"}])
def test_a_removal_names_one_document_as_text(value):
    from rag.core.errors import RagError
    from ui.documents import chosen_id

    with pytest.raises(RagError, match="choose one document"):
        chosen_id(value)
    assert chosen_id("") is None and chosen_id("uploads/a.md") == "uploads/a.md"


def test_a_refused_call_is_one_short_line():
    from ui.calls import clip

    line = clip("Value: " + "x" * 100_000 + "\nnext line")
    assert len(line) < 250 and "\n" not in line and "100,017 characters" in line


def test_the_upload_cache_deletes_only_what_it_holds(tmp_path):
    from ui.uploads import UploadCache

    cache = UploadCache(tmp_path)
    received = cache.path / "3f2a" / "notes.txt"
    received.parent.mkdir()
    received.write_text("uploaded")
    outside = tmp_path / "user-file.txt"
    outside.write_text("mine")
    cache.discard(outside)
    cache.discard(cache.path / ".." / "user-file.txt")
    assert outside.exists()
    cache.discard(received)
    assert not received.exists() and not received.parent.exists() and cache.path.is_dir()

    stale, fresh = cache.path / "a" / "old.txt", cache.path / "b" / "new.txt"
    for p in (stale, fresh):
        p.parent.mkdir()
        p.write_text("x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert cache.sweep(max_age=600) == 1 and not stale.exists() and fresh.exists()
    cache.close()
    assert not cache.path.exists() and outside.exists()


def test_failed_logins_lock_a_client_out_for_longer_each_time():
    from ui.guard import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(free=3, first=1.0, longest=8.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0  # the free tries are spent, not yet a wait
    waits = []
    for _ in range(5):
        throttle.failed("10.0.0.1")
        waits.append(throttle.wait("10.0.0.1"))
        now[0] += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.wait("10.0.0.2") == 0  # another client is not held up
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0


@pytest.mark.parametrize("headers, same", [
    ({"host": "127.0.0.1:7860"}, True),  # a program: no Origin
    ({"host": "127.0.0.1:7860", "origin": "http://127.0.0.1:7860"}, True),
    ({"host": "127.0.0.1:7860", "origin": "https://evil.example"}, False),
    ({"host": "127.0.0.1:7860", "origin": "null"}, False),
    ({"host": "127.0.0.1:7860", "origin": "https://chat.example.org", "x-forwarded-host": "chat.example.org"}, True),
])
def test_only_this_servers_own_page_may_upload(headers, same):
    from ui.guard import same_origin

    assert same_origin(headers) is same


@pytest.mark.parametrize("host, share, login, read_only, warned", [
    ("127.0.0.1", False, False, False, False),
    ("localhost", False, False, False, False),
    ("::1", False, False, False, False),
    ("0.0.0.0", False, False, False, True),
    ("192.168.1.20", False, False, False, True),
    ("127.0.0.1", True, False, False, True),
    ("0.0.0.0", False, True, False, False),
    ("0.0.0.0", True, False, True, False),
])
def test_a_server_others_can_reach_without_a_login_is_warned_about(host, share, login, read_only, warned):
    from ui.guard import exposure_warning

    warning = exposure_warning(host=host, share=share, login=login, read_only=read_only)
    assert (warning is not None) is warned
    if warned:
        assert "--auth" in warning and "--read-only" in warning


def test_only_upload_folders_of_ended_servers_are_removed(tmp_path):
    import subprocess
    import sys

    from ui.uploads import OWNER, UploadCache, remove_abandoned

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = UploadCache(tmp_path)
    (dead.path / OWNER).write_text(ended.stdout.strip())
    (dead.path / "ab12").mkdir()
    (dead.path / "ab12" / "left.txt").write_text("left by a killed server")
    live = UploadCache(tmp_path)  # this process's own
    unowned = tmp_path / "rag-web-uploads-someone"
    unowned.mkdir()
    (unowned / "theirs.txt").write_text("not provably a server's")
    assert remove_abandoned(tmp_path) == [dead.path]
    assert not dead.path.exists() and live.path.is_dir() and (unowned / "theirs.txt").exists()
