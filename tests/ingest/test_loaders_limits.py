"""What `rag index` reads from a corpus, and what one file may cost.

Only regular files are opened; links, pipes and files that vanish mid-run are skipped with one
line each; a file over a limit (text, chunks, parse time) is skipped and its indexed version kept.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from rag.app import factory
from rag.core.config import Config
from rag.index.store import IndexStore
from rag.ingest.loaders import FileLimits, load_documents, load_text_document
from rag.ingest.parse_worker import DeadlineExceeded, Worker, WorkerFailed

from ..support.files import make_pdf, write

LIMITS = FileLimits(max_chars=1_000_000, max_parse_seconds=30.0)


def slow_pdf(n_ops: int = 100_000) -> bytes:
    """A few KB of PDF whose one compressed page holds `n_ops` text operators: seconds to parse."""
    ops = b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj 1 0 Td " * n_ops + b"ET"
    stream = zlib.compress(ops, 9)
    pdf = make_pdf("x")
    plain = b"BT /F1 12 Tf 72 720 Td (x) Tj ET"
    body = b"<< /Length %d >>\nstream\n" % len(plain) + plain
    packed = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
    # Rebuild the cross-reference table for the new stream length.
    objects = pdf.replace(body, packed)
    head, _, _ = objects.partition(b"xref\n")
    offsets = [head.index(b"%d 0 obj\n" % i) for i in range(1, 6)]
    tail = b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    tail += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % len(head)
    return head + tail


def load_in_thread(paths: list[Path], limits: FileLimits = LIMITS, seconds: float = 20):
    """load_documents with a deadline: a loader that blocks (on a pipe, say) fails the test."""
    box: dict = {}

    def work():
        try:
            box["result"] = load_documents(paths, limits=limits)
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "loading blocked"
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    write(root / "a.txt", "Lighthouses guide ships along rocky coasts.")
    return root


def reasons(result) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in result.skipped}


def test_a_named_pipe_or_socket_is_skipped_without_being_opened(corpus):
    fifo = corpus / "pipe.txt"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(corpus / "sock.md"))
    try:
        result = load_in_thread([corpus])
    finally:
        sock.close()
        try:  # release a reader that is stuck in open() on the old code
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert [d.id for d in result.documents] == ["a.txt"]
    assert "named pipe" in reasons(result)["pipe.txt"] and "socket" in reasons(result)["sock.md"]
    assert all(s.doc_id is None for s in result.skipped)


def test_broken_links_and_link_loops_are_skipped_with_one_line_each(corpus, caplog):
    (corpus / "gone.txt").symlink_to(corpus / "nowhere.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "ring1.md").symlink_to(corpus / "ring2.md")
    (corpus / "ring2.md").symlink_to(corpus / "ring1.md")
    result = load_in_thread([corpus])
    assert [d.id for d in result.documents] == ["a.txt"]
    why = reasons(result)
    assert "broken symlink" in why["gone.txt"] and "nowhere.txt" in why["gone.txt"]
    assert all("symlink loop" in why[name] for name in ("loop.txt", "ring1.md", "ring2.md"))
    warnings = [r.getMessage() for r in caplog.records if r.name == "rag.ingest.loaders"]
    assert len(warnings) == 4 and all("\n" not in w for w in warnings)


def test_links_outside_the_corpus_are_read_only_when_configured(tmp_path, corpus):
    outside = write(tmp_path / "elsewhere" / "secret.txt", "Private notes kept outside the corpus.")
    (corpus / "notes.txt").symlink_to(outside)
    (corpus / "more").symlink_to(outside.parent, target_is_directory=True)
    write(corpus / "sub" / "b.txt", "Puffins nest in burrows on cliffs.")
    (corpus / "alias").symlink_to(corpus / "sub", target_is_directory=True)  # inside: read once, as sub/
    (corpus / "a-link.txt").symlink_to(corpus / "a.txt")

    result = load_in_thread([corpus])
    assert sorted(d.id for d in result.documents) == ["a-link.txt", "a.txt", "sub/b.txt"]
    why = reasons(result)
    assert "outside the corpus" in why["notes.txt"] and "follow_external_symlinks" in why["more"]
    assert all(s.doc_id is None for s in result.skipped)  # not kept: the operator has not allowed them

    following = FileLimits(max_chars=1_000_000, max_parse_seconds=30.0, follow_external_symlinks=True)
    (outside.parent / "back").symlink_to(outside.parent, target_is_directory=True)  # a loop out there
    result = load_in_thread([corpus], following)
    assert sorted(d.id for d in result.documents) == ["a-link.txt", "a.txt", "more/secret.txt", "notes.txt",
                                                      "sub/b.txt"]
    assert "symlink loop" in reasons(result)["back"]


def test_a_file_deleted_during_the_run_is_skipped_and_keeps_its_id(corpus, monkeypatch):
    write(corpus / "b.txt", "Barn owls live on every continent.")
    import rag.ingest.loaders

    read = rag.ingest.loaders._read_regular_file

    def read_and_delete_the_next(path, max_bytes):
        if path.name == "a.txt":
            (corpus / "b.txt").unlink()
        return read(path, max_bytes)

    monkeypatch.setattr(rag.ingest.loaders, "_read_regular_file", read_and_delete_the_next)
    result = load_in_thread([corpus])
    assert [d.id for d in result.documents] == ["a.txt"]
    (skipped,) = result.skipped
    assert skipped.doc_id == "b.txt" and "vanished while indexing" in skipped.reason


def test_text_over_max_file_chars_is_skipped_naming_the_setting(corpus):
    write(corpus / "big.md", "# Big\n\n" + "Herons wade in shallow water. " * 200)
    write(corpus / "lines.jsonl", '{"id": "short", "text": "Terns dive."}\n'
                                  '{"id": "long", "text": "' + "Gannets dive. " * 100 + '"}\n')
    result = load_in_thread([corpus], FileLimits(max_chars=1000, max_parse_seconds=30.0))
    assert sorted(d.id for d in result.documents) == ["a.txt", "short"]
    by_id = {s.doc_id: s for s in result.skipped}
    assert "max_file_chars (1,000)" in by_id["big.md"].reason
    assert by_id["long"].path.endswith("lines.jsonl:2") and "max_file_chars" in by_id["long"].reason


def test_parsing_that_overruns_max_parse_seconds_is_stopped_and_the_next_file_parses():
    limits = FileLimits(max_chars=10_000_000, max_parse_seconds=0.5)
    load_text_document("warm.pdf", make_pdf("Warm up."), limits=limits)  # start the parser process
    t0 = time.monotonic()
    with pytest.raises(Exception, match=r"max_parse_seconds \(0.5 s\)"):
        load_text_document("slow.pdf", slow_pdf(), limits=limits)
    assert time.monotonic() - t0 < 4  # parsing it whole takes 4-10 s here
    doc = load_text_document("owls.pdf", make_pdf("Barn owls live on every continent."), limits=limits)
    assert "Barn owls" in doc.text


def test_a_slow_pdf_in_the_corpus_is_skipped_by_name(corpus):
    (corpus / "slow.pdf").write_bytes(slow_pdf())
    result = load_in_thread([corpus], FileLimits(max_chars=10_000_000, max_parse_seconds=0.5))
    assert [d.id for d in result.documents] == ["a.txt"]
    (skipped,) = result.skipped
    assert skipped.doc_id == "slow.pdf" and "max_parse_seconds" in skipped.reason


def test_files_over_a_limit_keep_their_indexed_version(tmp_path, corpus, embedder):
    write(corpus / "b.txt", "Barn owls live on every continent.")
    index = tmp_path / "index"
    small = {"chunk_tokens": 16, "chunk_overlap": 0}
    factory.indexer(Config(**small), embedder).index_paths([corpus], index)

    write(corpus / "b.txt", "Barn owls hunt mice. " * 400)  # 8,400 characters, over 100 chunks of 16 tokens
    write(corpus / "c.txt", "Snowy owls hunt by day. " * 400)
    report = factory.indexer(Config(**small, max_file_chunks=20), embedder).index_paths([corpus], index)
    assert report.removed == [] and report.added == [] and report.updated == []
    assert {s.doc_id for s in report.skipped} == {"b.txt", "c.txt"}
    assert all("max_file_chunks (20)" in s.reason for s in report.skipped)
    manifest = IndexStore(index).read_manifest()
    assert set(manifest.documents) == {"a.txt", "b.txt"}

    report = factory.indexer(Config(**small, max_file_chars=5_000), embedder).index_paths([corpus], index)
    assert report.removed == [] and {s.doc_id for s in report.skipped} == {"b.txt", "c.txt"}
    assert "max_file_chars" in report.skipped[0].reason
    assert set(IndexStore(index).read_manifest().documents) == {"a.txt", "b.txt"}


def test_the_parser_process_survives_a_crash_and_a_timeout():
    worker = Worker()
    try:
        with pytest.raises(WorkerFailed):
            worker.run(os._exit, (3,), 30)
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            worker.run(time.sleep, (30,), 0.3)
        assert time.monotonic() - t0 < 5
        with pytest.raises(ValueError):
            worker.run(int, ("not a number",), 30)
        assert worker.run(len, ("abc",), 30) == 3
    finally:
        worker.close()


def test_without_a_parser_process_files_still_parse(monkeypatch, caplog):
    import rag.ingest.loaders

    monkeypatch.setattr(rag.ingest.loaders, "_PARSER", Worker())
    monkeypatch.setattr(rag.ingest.loaders, "_NO_PARSER_PROCESS", threading.Event())
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    doc = load_text_document("owls.pdf", make_pdf("Barn owls live on every continent."), limits=LIMITS)
    assert "Barn owls" in doc.text
    assert any("without a time or memory limit" in r.getMessage() for r in caplog.records)
