"""What one file may cost the parser — memory, unpacked size, time — whatever its format, and
the parser process giving back what a bad file took."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench.faults import docx_bomb
from rag.app import factory
from rag.core.config import Config
from rag.core.errors import ConfigError, ParseLimitError
from rag.ingest import loaders
from rag.ingest.archives import ZipLimits
from rag.ingest.loaders import FileLimits, load_documents, load_text_document
from rag.ingest.parse_worker import MemoryLimitExceeded, Worker

from ..support import child_memory
from ..support.document_files import harbour_docx
from ..support.files import write

MB = 2**20


@pytest.fixture
def parser(monkeypatch) -> Worker:
    """The loaders' parser process, fresh, so its peak memory is this test's."""
    worker = Worker(preload=("rag.ingest.loaders", "pypdf"))
    monkeypatch.setattr(loaders, "_PARSER", worker)
    monkeypatch.setattr(loaders, "_NO_PARSER_PROCESS", threading.Event())
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return docx_bomb(5_000_000)


def load_in_thread(paths: list[Path], limits: FileLimits, seconds: float):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=load_documents(paths, limits=limits)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"loading took more than {seconds:.0f} s"
    return box["result"]


def test_a_docx_bomb_is_refused_in_one_line_before_unpacking_and_a_normal_docx_still_parses(tmp_path, parser, bomb):
    assert 400_000 < len(bomb) < 900_000  # unpacks to 170 MB of XML: over 7 GB to parse
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bomb.docx").write_bytes(bomb)
    harbour_docx(corpus / "harbour.docx")
    t0 = time.monotonic()
    result = load_in_thread([corpus], FileLimits(), seconds=60)
    assert time.monotonic() - t0 < 20
    assert [d.id for d in result.documents] == ["harbour.docx"] and "Amina Said" in result.documents[0].text
    (skipped,) = result.skipped
    assert skipped.doc_id == "bomb.docx" and "\n" not in skipped.reason
    assert "max_zip_ratio (100)" in skipped.reason and "word/document.xml" in skipped.reason
    bound = FileLimits().max_parse_memory_mb * MB
    assert 0 < parser.peak_memory < bound and parser.memory() < bound
    with pytest.raises(ParseLimitError, match="decompression bomb"):
        load_text_document("bomb.docx", bomb)


def test_a_file_past_the_zip_check_is_stopped_at_max_parse_memory_mb_and_the_parser_shrinks_back(tmp_path, parser):
    limits = FileLimits(max_parse_memory_mb=256, zip=ZipLimits(max_unzipped_mb=10_000, max_ratio=10_000))
    with pytest.raises(ParseLimitError, match=r"max_parse_memory_mb \(256 MB\)") as refused:
        load_text_document("bomb.docx", docx_bomb(1_000_000), limits=limits)  # 34 MB of XML, a GB to parse
    assert "\n" not in str(refused.value)
    assert 200 * MB < parser.peak_memory <= 256 * MB
    assert parser.memory() == 0  # the process that grew is gone
    doc = load_text_document("harbour.docx", harbour_docx(tmp_path / "h.docx").read_bytes(), limits=limits)
    assert "Amina Said" in doc.text
    assert 0 < parser.memory() < 128 * MB


def test_the_parser_process_is_replaced_after_any_failed_call_and_after_it_grew():
    worker = Worker()
    cap = 512 * MB
    try:
        first = worker.run(child_memory.pid, (), 30)
        assert worker.run(child_memory.pid, (), 30) == first  # kept while it is healthy
        with pytest.raises(ValueError):
            worker.run(int, ("not a number",), 30)
        after_failure = worker.run(child_memory.pid, (), 30)
        assert after_failure != first
        grown = worker.run(child_memory.hold, (200,), 30, cap)  # past a quarter of its cap
        assert worker.run(child_memory.pid, (), 30, cap) != grown
        assert worker.peak_memory >= 200 * MB
        with pytest.raises(MemoryLimitExceeded):
            worker.run(child_memory.hold, (600,), 30, cap)
        assert worker.peak_memory < cap
        assert worker.run(len, ("abc",), 30, cap) == 3
    finally:
        worker.close()


def test_html_nested_200000_deep_is_stopped_at_the_deadline_and_the_other_files_load(tmp_path, parser):
    corpus = tmp_path / "corpus"
    deep = "<html><body>" + "<div>" * 200_000 + "deep" + "</div>" * 200_000 + "</body></html>"
    write(corpus / "deep.html", deep)  # 2.2 MB; minutes to parse
    write(corpus / "owls.txt", "Barn owls hunt at night.")
    t0 = time.monotonic()
    result = load_in_thread([corpus], FileLimits(max_parse_seconds=2.0), seconds=30)
    assert time.monotonic() - t0 < 10
    assert [d.id for d in result.documents] == ["owls.txt"]
    (skipped,) = result.skipped
    assert skipped.doc_id == "deep.html" and "max_parse_seconds (2 s)" in skipped.reason


def test_a_jsonl_line_nested_too_deeply_is_skipped_by_line_and_the_rest_load(tmp_path, parser):
    deep = '{"id": "deep", "text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = write(tmp_path / "c.jsonl", '{"id": "owls", "text": "Barn owls hunt at night."}\n' + deep + "\n")
    result = load_documents([path])
    assert [d.id for d in result.documents] == ["owls"]
    (skipped,) = result.skipped
    assert skipped.path.endswith("c.jsonl:2") and "nested too deeply" in skipped.reason


def test_the_memory_and_unpacking_limits_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_MAX_PARSE_MEMORY_MB", "300")
    monkeypatch.setenv("RAG_MAX_ZIP_RATIO", "50")
    write(tmp_path / "rag.toml", "[limits]\nmax_unzipped_mb = 64\n")
    limits = factory.file_limits(Config.load())
    assert (limits.max_parse_memory_mb, limits.zip.max_ratio, limits.zip.max_unzipped_mb) == (300, 50, 64)
    with pytest.raises(ConfigError, match="max_parse_memory_mb"):
        Config(max_parse_memory_mb=16)  # too little to even start the parsers


def test_after_reading_a_folder_the_parser_child_gives_its_memory_back_and_the_next_read_still_works(tmp_path, parser):
    """What the files took stays out of the indexing process tree while the passages are embedded."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus / "corpus.jsonl", "".join(f'{{"id": "d{i}", "text": "{"lighthouse keeper " * 2000}"}}\n'
                                           for i in range(40)))
    first = load_documents([corpus])
    assert len(first.documents) == 40 and parser.peak_memory > 0
    assert parser.memory() == 0  # the child that read them is gone; the template stays for a fast fork
    harbour_docx(corpus / "harbour.docx")
    again = load_documents([corpus])
    assert "Amina Said" in next(d.text for d in again.documents if d.id == "harbour.docx")
    assert parser.memory() == 0
