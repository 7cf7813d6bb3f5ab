"""Uploads indexed while others chat: every reader gets results from one whole index version."""

from __future__ import annotations

import itertools
import re
import shutil
import threading
import time
import traceback

import pytest

from rag.app import factory
from rag.app.service import ChatService
from rag.core.config import Config
from rag.core.records import Answer
from rag.index.store import IndexStore
from rag.retrieval.retriever import Retriever

from ..conftest import ARTICLE

EDITIONS = 3
# A BM25 search embeds nothing, so that reader spends nearly all its time in the index structures,
# where a half-swapped version would show; the others cover the dense side and the chat path.
READERS = ("bm25", "hybrid", "dense", "chat")
K = 5
EDITION = re.compile(r"edition (\d+)")
NOTE = re.compile(r"uploads/note-(\d+)\.md")


def ledger(edition: int) -> bytes:
    """Long enough for several chunks; every sentence names its edition, so a chunk of one
    edition found beside a chunk of another (or a chunk holding two) shows a mix."""
    ships = ["Mwambao", "Kaskazi", "Pemba Star", "Tanga Belle", "Lindi Queen", "Mafia Dawn", "Rufiji", "Bagamoyo"]
    lines = [f"# Harbour ledger, edition {edition}", ""]
    for i, ship in enumerate(ships * 3):
        lines.append(f"In edition {edition} the harbour ledger records that the dhow {ship} unloaded "
                     f"{(i + 1) * 7} sacks of cloves at berth {i % 5 + 1}; edition {edition} lists its "
                     f"captain as harbour pilot number {i + 1}.")
    return "\n".join(lines).encode()


def note(n: int) -> bytes:
    return (f"# Ledger note {n}\n\nNote {n} was signed by the harbour master after edition {n} of the harbour "
            f"ledger; note {n} says the clove sacks of edition {n} were counted twice.").encode()


QUESTIONS = ["Which dhow unloaded cloves in the harbour ledger?", "Who signed the ledger notes?",
             "When was the IMU first formed?", "How many sacks of cloves were counted?"]
FOLLOW_UP = ("Which captain does it list?", [("Which dhow unloaded cloves in the harbour ledger?", "The ledger.")])


def key(hits) -> tuple:
    return tuple((h.chunk.id, h.chunk.doc_id, h.chunk.text, h.chunk.start, h.chunk.end) for h in hits)


def check_markers(hits) -> None:
    """One edition per result; notes only from versions that already held them."""
    editions = set()
    for h in hits:
        if h.doc_id == "uploads/ledger.md":
            found = set(EDITION.findall(h.text))
            assert len(found) == 1, f"chunk {h.chunk.id} holds editions {found}"
            editions |= found
    assert len(editions) <= 1, f"one result mixes ledger editions {sorted(editions)}"
    if editions:
        edition = int(editions.pop())
        for h in hits:
            m = NOTE.fullmatch(h.doc_id)
            assert not m or int(m.group(1)) <= edition, f"note {m.group(1)} beside ledger edition {edition}"


@pytest.mark.slow
def test_readers_see_one_whole_index_version_while_uploads_are_indexed(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    cfg = Config(corpus_dir=corpus, index_dir=tmp_path / "index")
    factory.indexer(cfg, embedder).index_paths([corpus], cfg.index_dir)
    service = ChatService(cfg, embedder=embedder)
    store = IndexStore(cfg.index_dir)

    # Every published version as read back from disk, independently of the retriever under test;
    # kept in memory because old versions are deleted as new ones land.
    versions = {store.current_path().name: store.load()}
    results: list[tuple[str, str, str, tuple]] = []  # (kind, retrieval question, mode, hits)
    errors: list[str] = []
    done_by = [0] * len(READERS)  # requests finished, per reader
    reading, done = threading.Event(), threading.Event()

    def record(reader: int, kind: str, question: str, mode: str, hits) -> None:
        check_markers(hits)
        results.append((kind, question, mode, tuple(hits)))
        done_by[reader] += 1
        reading.set()

    def reader(n: int, role: str) -> None:
        try:
            for i in itertools.count():
                if done.is_set():
                    return
                question = QUESTIONS[i % len(QUESTIONS)]
                if role != "chat":
                    record(n, "search", question, role, service.retriever.search(question, K, mode=role))
                    continue
                # The chat path: refresh, condense the follow-up, retrieve, stream the answer.
                q, history = FOLLOW_UP if i % 3 == 0 else (question, [])
                final = [e for e in service.ask_stream(q, history, "extractive", K) if isinstance(e, Answer)]
                assert len(final) == 1, "the stream must end with exactly one answer"
                texts = {h.chunk.id: h.chunk.text for h in final[0].hits}
                for c in final[0].citations:
                    assert c.quote in texts[c.chunk_id], f"citation [{c.marker}] quotes text its passage lacks"
                record(n, "ask", final[0].standalone_question, "hybrid", final[0].hits)
        except BaseException:  # noqa: BLE001 - any failure in a reader fails the test
            errors.append(traceback.format_exc())

    def writer() -> None:
        try:
            reading.wait(20)
            for n in range(1, EDITIONS + 1):
                for name, data in (("ledger.md", ledger(n)), (f"note-{n}.md", note(n))):
                    service.upload(name, data)
                    versions[store.current_path().name] = store.load()  # the only writer: this is ours
                    # Readers keep going; wait until each has finished a request begun after this
                    # version went live, so every version is read while the next one is written.
                    target, deadline = [c + 2 for c in done_by], time.monotonic() + 10
                    while (any(c < t for c, t in zip(done_by, target)) and time.monotonic() < deadline
                           and not errors):
                        time.sleep(0.01)
        except BaseException:  # noqa: BLE001
            errors.append(traceback.format_exc())
        finally:
            done.set()

    threads = [threading.Thread(target=reader, args=(n, role)) for n, role in enumerate(READERS)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert errors == [], "\n".join(errors)
    assert len(versions) == 1 + 2 * EDITIONS

    # What each whole version returns, computed afterwards without concurrency.
    answers: dict[tuple[str, str, tuple], set[str]] = {}
    for name, snapshot in versions.items():
        alone = Retriever(snapshot, embedder, factory.retrieval_settings(cfg), store)
        for question, mode in {(question, mode) for _, question, mode, _ in results}:
            answers.setdefault((question, mode, key(alone.search(question, K, mode=mode))), set()).add(name)
    sources = set()
    for kind, question, mode, hits in results:
        matching = answers.get((question, mode, key(hits)))
        assert matching, (f"{kind} {question!r} ({mode}) returned passages no single published version gives: "
                          f"{[(h.chunk.id, h.text[:50]) for h in hits]}")
        sources.add(frozenset(matching))
    # Otherwise the test proves nothing: readers must have run while the index changed under them.
    assert len(sources) >= EDITIONS, f"readers saw only {len(sources)} distinguishable versions"
    latest = [h for h in service.retriever.search(QUESTIONS[0], K) if h.doc_id == "uploads/ledger.md"]
    assert latest and all(set(EDITION.findall(h.text)) == {str(EDITIONS)} for h in latest)


@pytest.mark.slow
def test_counting_tokens_for_an_upload_never_breaks_a_question_being_embedded(embedder):
    """Chunking calls the tokenizer without padding or truncation; if that reached the tokenizer
    questions are embedded with, a batch tokenized meanwhile could not be made into a tensor."""
    stop = threading.Event()

    def chunk_an_upload() -> None:
        while not stop.is_set():
            embedder.count_tokens("The ledger lists every payment. " * 80)

    counter = threading.Thread(target=chunk_an_upload)
    counter.start()
    try:
        for _ in range(150):
            vectors = embedder.encode_queries(["Who?", "Which group claimed the attack on the airport in Karachi?"])
            assert vectors.shape == (2, 384)
    finally:
        stop.set()
        counter.join()
