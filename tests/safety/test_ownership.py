"""rag deletes and overwrites only what it created: index directories, uploads, damaged files.

Every case here lost a user's data or printed a traceback before the index and the upload
folder kept a ledger of their own entries.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.app import factory
from rag.core.errors import DocumentError, IndexCorruptError, IndexWriteError, NotOwnedError
from rag.index.store import IndexStore
from rag.indexing.uploads import UploadFolder, ingest

from ..support.cli import assert_one_clear_error, run
from ..support.files import write


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def docs(tmp_path) -> Path:
    corpus = tmp_path / "docs"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape and guides the fishing fleet.")
    return corpus


@pytest.fixture
def users_folder(tmp_path) -> Path:
    """A working folder of someone's, with names an old glob over `v*` and `tmp-*` matched."""
    home = tmp_path / "home"
    for d in ("vendor", "venv", "videos", "tmp-notes"):
        write(home / d / "keep.txt", f"{d} belongs to the user")
    write(home / "tmp-list.md", "shopping list")
    return home


# --- the index directory ---

def test_indexing_into_a_folder_of_the_users_is_refused_and_touches_nothing(users_folder, docs, capsys,
                                                                            shared_model, monkeypatch):
    before = tree(users_folder)
    monkeypatch.chdir(users_folder)
    for args in (["index", str(docs), "--index", "."], ["index", str(docs), "--index", ".", "--rebuild"],
                 ["index", str(docs), "--index", str(users_folder)]):
        code, out, err = run(capsys, *args)
        assert_one_clear_error(code, err, "not an index directory", "vendor")
    assert tree(users_folder) == before


def test_searching_a_folder_of_the_users_says_it_is_not_an_index_and_never_suggests_rebuilding_it(
        users_folder, capsys, shared_model):
    code, _, err = run(capsys, "search", "anything", "--index", str(users_folder))
    assert_one_clear_error(code, err, "not an index directory")
    assert "--rebuild" not in err


def test_an_index_never_removes_entries_it_did_not_create(tmp_path, docs, indexer):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    # Things a user (or another tool) put beside the index, named like the index's own entries.
    write(index_dir / "v1700000000000000000-abcdef" / "manifest.json", "{}")
    write(index_dir / "tmp-v1-abcdef" / "notes.txt", "mine")
    write(index_dir / "tmp-list.md", "mine")
    for i in range(4):  # several versions published and collected
        write(docs / f"n{i}.txt", f"Note {i} about tides and harbours.")
        indexer.index_paths([docs], index_dir)
    for name in ("v1700000000000000000-abcdef/manifest.json", "tmp-v1-abcdef/notes.txt", "tmp-list.md"):
        assert (index_dir / name).exists(), name
    versions = [p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v")
                and p.name != "v1700000000000000000-abcdef"]
    assert len(versions) == 2  # the live one and the newest previous one


def test_rebuild_after_losing_current_removes_only_the_indexs_own_versions(tmp_path, docs, indexer, capsys,
                                                                            shared_model):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    write(index_dir / "videos" / "holiday.txt", "mine")
    (index_dir / "CURRENT").unlink()
    code, _, err = run(capsys, "search", "lighthouse", "--index", str(index_dir))
    assert_one_clear_error(code, err, "CURRENT is missing", "--rebuild")
    code, _, _ = run(capsys, "index", str(docs), "--index", str(index_dir), "--rebuild")
    assert code == 0 and (index_dir / "videos" / "holiday.txt").read_text() == "mine"
    assert IndexStore(index_dir).load().manifest.documents.keys() == {"a.txt"}


def test_an_empty_directory_becomes_an_index_and_a_file_is_refused(tmp_path, docs, indexer):
    (tmp_path / "empty").mkdir()
    indexer.index_paths([docs], tmp_path / "empty")
    assert IndexStore(tmp_path / "empty").exists()
    write(tmp_path / "a-file", "not a directory")
    with pytest.raises(NotOwnedError, match="is a file"):
        indexer.index_paths([docs], tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_an_index_written_before_ledgers_is_updated_and_keeps_its_neighbours(tmp_path, docs, indexer):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    for own in (".rag-owned.json", ".rag-owned.lock"):
        (index_dir / own).unlink()
    write(index_dir / "vendor" / "lib.py", "mine")
    write(docs / "b.txt", "Basalt is a volcanic rock.")
    report = indexer.index_paths([docs], index_dir)
    assert report.added == ["b.txt"] and (index_dir / "vendor" / "lib.py").exists()


def test_an_index_inside_the_corpus_is_never_indexed_as_documents(tmp_path, docs, indexer):
    index_dir = docs / "idx"
    counts = [indexer.index_paths([docs], index_dir).n_chunks for _ in range(3)]
    assert counts[0] == counts[1] == counts[2]
    assert set(IndexStore(index_dir).read_manifest().documents) == {"a.txt"}


# --- sources that turn unreadable keep what the index knew ---

def test_a_jsonl_corpus_that_turns_unreadable_keeps_its_indexed_documents(tmp_path, docs, indexer):
    lines = [{"id": "c1", "title": "Kilns", "text": "A kiln fires clay at high heat."},
             {"id": "c2", "title": "Looms", "text": "A loom weaves thread into cloth."}]
    corpus_file = write(docs / "c.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    with open(corpus_file, "ab") as fh:
        fh.write(b"\xff")
    report = indexer.index_paths([docs], index_dir)
    assert report.removed == [] and any("c.jsonl" in s.path for s in report.skipped)
    assert set(IndexStore(index_dir).read_manifest().documents) == {"a.txt", "c1", "c2"}


def test_a_truncated_last_jsonl_line_keeps_that_lines_document(tmp_path, docs, indexer):
    lines = [{"id": "c1", "text": "A kiln fires clay at high heat."}, {"id": "c2", "text": "A loom weaves cloth."}]
    text = "".join(json.dumps(x) + "\n" for x in lines)
    write(docs / "c.jsonl", text)
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    moved = tmp_path / "moved-docs"  # the same corpus, read from elsewhere
    shutil.copytree(docs, moved)
    (moved / "c.jsonl").write_text(text[:-12], encoding="utf-8")  # a copy that stopped half-way
    report = indexer.index_paths([moved], index_dir)
    assert report.removed == [] and any(s.path.endswith("c.jsonl:2") for s in report.skipped)
    assert set(IndexStore(index_dir).read_manifest().documents) == {"a.txt", "c1", "c2"}


# --- damaged index files: the damage is named, with the command that fixes it ---

@pytest.fixture
def index_copy(tmp_path, article_index) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(article_index, copy)
    return copy


@pytest.mark.parametrize("how", ["directory", "random-bytes", "empty"])
def test_a_damaged_current_pointer_is_named_not_a_traceback(index_copy, how, capsys, shared_model):
    pointer = index_copy / "CURRENT"
    pointer.unlink()
    if how == "directory":
        pointer.mkdir()
    else:
        pointer.write_bytes(os.urandom(64) if how == "random-bytes" else b"")
    for command in ("search", "ask"):
        code, out, err = run(capsys, command, "When was the IMU first formed?", "--index", str(index_copy))
        assert_one_clear_error(code, err, "CURRENT", "rag index --rebuild")


def test_every_index_file_overwritten_with_random_bytes_is_named_with_the_rebuild_command(
        index_copy, config, embedder):
    version = IndexStore(index_copy).current_path()
    files = [p for p in version.rglob("*") if p.is_file()]
    assert len(files) >= 5
    rng = np.random.default_rng(0)
    for target in files:
        original = target.read_bytes()
        target.write_bytes(rng.bytes(max(len(original), 64)))
        try:
            with pytest.raises(IndexCorruptError) as err:
                retriever = factory.retriever(config, index_copy, embedder=embedder)
                retriever.search("When was the IMU first formed?", 5)  # chunk lines are read lazily
            assert target.name in str(err.value) or str(target.parent) in str(err.value), target
            assert "rag index --rebuild" in str(err.value)
        finally:
            target.write_bytes(original)


def test_a_damaged_ledger_refuses_writes_and_deletes_nothing(index_copy, article_corpus, indexer):
    (index_copy / ".rag-owned.json").write_bytes(b"\x00garbage")
    before = tree(index_copy)
    write(article_corpus.parent / "more" / "b.txt", "Basalt is a volcanic rock.")
    with pytest.raises(IndexCorruptError, match="nothing was changed"):
        indexer.index_paths([article_corpus, article_corpus.parent / "more"], index_copy)
    assert tree(index_copy) == before


# --- failed writes: the previous index stays live and nothing is left behind ---

def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["rag.index.segments.np.save", "rag.index.segments.write_chunks",
                                   "rag.index.segments.TermStats.build", "rag.index.store._fsync_tree",
                                   "rag.safety.ownership.json.dump"])
def test_a_full_disk_while_indexing_keeps_the_previous_index_and_leaves_no_temporaries(
        tmp_path, docs, indexer, monkeypatch, where):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    before = tree(index_dir)
    live = IndexStore(index_dir).current_path()
    write(docs / "b.txt", "A second document that will never be published.")
    monkeypatch.setattr(where, enospc)
    with pytest.raises(IndexWriteError, match="free some disk space"):
        indexer.index_paths([docs], index_dir)
    monkeypatch.undo()
    assert IndexStore(index_dir).current_path() == live
    assert tree(index_dir) == before  # no tmp-v… directory, no pointer temporaries
    assert indexer.index_paths([docs], index_dir).added == ["b.txt"]


def test_a_full_disk_during_an_upload_stores_nothing_and_says_why(tmp_path, indexer, monkeypatch):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    ingest("first.txt", b"Granite is an igneous rock.", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    before_corpus, before_index = tree(corpus), tree(index_dir)
    monkeypatch.setattr("rag.index.segments.np.save", enospc)
    with pytest.raises(IndexWriteError) as err:
        ingest("second.txt", b"Basalt is a volcanic rock.", corpus_dir=corpus, index_dir=index_dir,
               indexer=indexer)
    assert "No space left" in str(err.value) and "None" not in str(err.value)
    monkeypatch.undo()
    assert tree(corpus) == before_corpus and tree(index_dir) == before_index  # no .part file either


def mounted_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real, tiny file system (when this machine lets tests mount one)."""
    mount = tmp_path / "disk"
    if not mounted_tmpfs(mount, "160k"):
        pytest.skip("cannot mount a tmpfs here; the injected-ENOSPC tests cover the same paths")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_gives_one_line_and_keeps_the_index_whole(small_disk, tmp_path, capsys, shared_model):
    docs = tmp_path / "docs"
    write(docs / "a.txt", "The lighthouse stands on the northern cape.")
    index_dir = small_disk / "index"
    assert run(capsys, "index", str(docs), "--index", str(index_dir))[0] == 0
    live, before = IndexStore(index_dir).current_path(), tree(index_dir)
    for i in range(40):
        write(docs / f"big{i}.txt", " ".join(f"Paragraph {i}.{j} about tides, harbours and ships." for j in range(60)))
    code, _, err = run(capsys, "index", str(docs), "--index", str(index_dir))
    assert_one_clear_error(code, err, "No space left", "free some disk space")
    assert IndexStore(index_dir).current_path() == live and tree(index_dir) == before


def test_a_read_only_index_directory_gives_one_line(small_disk, tmp_path, capsys, shared_model):
    docs = tmp_path / "docs"
    write(docs / "a.txt", "The lighthouse stands on the northern cape.")
    index_dir = small_disk / "index"
    assert run(capsys, "index", str(docs), "--index", str(index_dir))[0] == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    write(docs / "b.txt", "Basalt is a volcanic rock.")
    code, _, err = run(capsys, "index", str(docs), "--index", str(index_dir))
    assert_one_clear_error(code, err, "Read-only file system", str(index_dir))
    code, out, _ = run(capsys, "search", "lighthouse", "--index", str(index_dir))
    assert code == 0 and "a.txt" in out  # reading still works


# --- readers during publishes ---

@pytest.mark.slow
def test_readers_never_see_a_false_corruption_while_versions_are_published_and_collected(
        tmp_path, docs, indexer, config, embedder):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    stop, errors, loads = threading.Event(), [], [0]

    def read() -> None:
        while not stop.is_set():
            try:
                IndexStore(index_dir).load()
                loads[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure to read a published index counts
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(12):
            write(docs / f"n{i}.txt", f"Note {i} about tides.")
            indexer.index_paths([docs], index_dir)
    finally:
        stop.set()
        reader.join()
    assert errors == [] and loads[0] > 0


def test_a_vanished_version_is_retried_with_the_live_one(tmp_path, docs, indexer, monkeypatch):
    index_dir = tmp_path / "index"
    indexer.index_paths([docs], index_dir)
    store = IndexStore(index_dir)
    first = store.current_path()
    write(docs / "b.txt", "Basalt is a volcanic rock.")
    real = IndexStore._load_version
    calls = []

    def racing(self, path, mmap):
        calls.append(path)
        if len(calls) == 1:  # a writer publishes and collects the version this reader picked
            indexer.index_paths([docs], index_dir)
            raise IndexCorruptError(f"{path} is missing manifest.json")
        return real(self, path, mmap)

    monkeypatch.setattr(IndexStore, "_load_version", racing)
    snapshot = store.load()
    assert calls[0] == first and snapshot.path != first and "b.txt" in snapshot.manifest.documents


# --- uploads ---

@pytest.mark.parametrize("first, second", [
    ("北京.txt", "上海.txt"), ("report (1).txt", "report-1.txt"), ("A.TXT", "A.txt"),
    ("x" * 90 + "-alpha.txt", "x" * 90 + "-beta.txt"), ("notes.md", "notes.txt"), ("a?.txt", "a*.txt"),
])
def test_two_different_uploads_always_keep_two_documents(tmp_path, indexer, config, embedder, first, second):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    a = ingest(first, b"Granite is an igneous rock formed from magma.", corpus_dir=corpus, index_dir=index_dir,
               indexer=indexer)
    b = ingest(second, b"Basalt is a volcanic rock that cools quickly.", corpus_dir=corpus, index_dir=index_dir,
               indexer=indexer)
    assert a.path != b.path and a.document.id != b.document.id and not (a.replaced or b.replaced)
    assert a.path.read_bytes().startswith(b"Granite") and b.path.read_bytes().startswith(b"Basalt")
    documents = factory.retriever(config, index_dir, embedder=embedder).documents
    assert {a.document.id, b.document.id} <= set(documents)
    assert "indexed" in a.status() and "replaced" not in b.status()


def test_reuploading_a_name_replaces_that_upload_and_says_so(tmp_path, indexer, config, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    first = ingest("北京.txt", b"Old text about granite.", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    again = ingest("北京.txt", b"New text about basalt.", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    assert again.replaced and again.path == first.path and again.path.read_bytes() == b"New text about basalt."
    assert again.status().startswith(f"{again.document.id}: replaced the earlier version of {again.document.id}")
    hits = factory.retriever(config, index_dir, embedder=embedder).search("basalt", 5)
    assert [h.chunk.text for h in hits] == ["New text about basalt."]


def test_an_upload_never_overwrites_a_file_the_user_put_in_the_upload_folder(tmp_path, indexer):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    mine = write(corpus / "uploads" / "notes.txt", "The user's own notes.")
    result = ingest("notes.txt", b"An uploaded note about kilns.", corpus_dir=corpus, index_dir=index_dir,
                    indexer=indexer)
    assert result.path != mine and mine.read_text() == "The user's own notes." and not result.replaced
    assert UploadFolder(corpus).remove("notes.txt") is False and mine.exists()
    assert UploadFolder(corpus).remove(result.path.name) is True and not result.path.exists()


def test_an_upload_over_the_chunk_limit_is_refused_and_stores_nothing(tmp_path, config, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    small = factory.indexer(config.replace(max_file_chunks=1), embedder)
    ingest("short.txt", b"Granite is an igneous rock.", corpus_dir=corpus, index_dir=index_dir, indexer=small)
    long_text = " ".join(f"Sentence {i} tells of tides, harbours and the ships in them." for i in range(200))
    with pytest.raises(DocumentError, match="max_file_chunks"):
        ingest("long.txt", long_text.encode(), corpus_dir=corpus, index_dir=index_dir, indexer=small)
    assert sorted(p.name for p in (corpus / "uploads").iterdir() if not p.name.startswith(".")) == ["short.txt"]
    assert set(IndexStore(index_dir).read_manifest().documents) == {"uploads/short.txt"}


def test_uploads_are_read_by_the_next_index_run_of_the_corpus(tmp_path, indexer):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    indexer.index_paths([corpus], index_dir)
    ingest("kilns.txt", b"A kiln fires clay at high heat.", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    report = indexer.index_paths([corpus], index_dir)  # the upload folder's ledger does not make it an index
    assert report.removed == [] and set(IndexStore(index_dir).read_manifest().documents) == {"a.txt",
                                                                                          "uploads/kilns.txt"}
