"""/v1 …/documents/{id}/file and …/highlights: the original of an indexed document, served with
its type and name, and nothing else: other collections' documents, removed documents, ids that
climb out of the corpus and raw paths of real files are all 404 and serve none of their bytes."""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from rag.app import factory
from tests.support.document_files import harbour_docx, velmont_pdf
from tests.support.files import write

from ..support.api import start_api, stop_api

SECRET = "TOP-SECRET-51c0de: the vault code is 9902"
NOTES = "# Lighthouse notes\n\nThe Zanzibar lighthouse keeper is Omari Juma.\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module, extra_collections=("team-a",),
                     keys={"reader": ("reader", None), "editor": ("editor", None),
                           "team-a": ("reader", ["team-a"]), "default-only": ("reader", ["default"])})
    corpus = Path(live.config.corpus_dir)
    velmont_pdf(corpus / "velmont.pdf")
    harbour_docx(corpus / "harbour.docx")
    write(corpus / "notes.md", NOTES)
    write(corpus / "page.html", "<html><body><p>High tide at Kilwa is at noon.</p><script>alert(1)</script></body></html>")
    factory.indexer(live.config, embedder).index_paths([corpus], live.config.index_dir)
    live.secret = write(corpus.parent / "secret.txt", SECRET)
    r = httpx.post(f"{live.api}/collections/team-a/documents", headers=live.headers("editor"), timeout=60,
                   files={"files": ("Café plan.md", b"# Plan\n\nThe team-a plan is to sail at noon.\n")})
    assert r.status_code == 201, r.text
    live.team_doc = r.json()["data"][0]["id"]
    yield live
    stop_api(live)


def file_url(live, doc_id: str, collection: str = "default") -> str:
    return f"{live.api}/collections/{collection}/documents/{quote(doc_id, safe='/')}/file"


def raw_get(live, path: str, key: str = "reader") -> tuple[int, bytes]:
    """A GET of `path` exactly as written (no client normalising `..` or percent-escapes)."""
    where = urlsplit(live.api)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.putrequest("GET", f"{where.path}{path}", skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {live.keys[key]}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("doc_id,media_type", [
    ("velmont.pdf", "application/pdf"),
    ("harbour.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("notes.md", "text/markdown; charset=utf-8"),
])
def test_an_indexed_file_is_served_with_its_type_name_and_bytes(live, doc_id, media_type):
    r = httpx.get(file_url(live, doc_id), headers=live.headers("reader"))
    assert r.status_code == 200
    assert r.content == (Path(live.config.corpus_dir) / doc_id).read_bytes()
    assert r.headers["content-type"] == media_type
    assert r.headers["content-disposition"] == f"inline; filename*=UTF-8''{doc_id}"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"


def test_download_asks_for_an_attachment_and_ranges_work(live):
    r = httpx.get(file_url(live, "velmont.pdf") + "?download=1", headers=live.headers("reader"))
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''velmont.pdf"
    r = httpx.get(file_url(live, "velmont.pdf"), headers={**live.headers("reader"), "Range": "bytes=0-7"})
    assert r.status_code == 206 and r.content == (Path(live.config.corpus_dir) / "velmont.pdf").read_bytes()[:8]


def test_html_is_always_an_attachment(live):
    r = httpx.get(file_url(live, "page.html"), headers=live.headers("reader"))
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-security-policy"] == "sandbox"


def test_an_uploaded_file_keeps_its_name_rfc_5987_encoded(live):
    r = httpx.get(file_url(live, live.team_doc, "team-a"), headers=live.headers("team-a"))
    assert r.status_code == 200 and b"sail at noon" in r.content
    assert r.headers["content-disposition"] == "inline; filename*=UTF-8''Caf%C3%A9%20plan.md"


def test_highlights_give_the_quote_and_its_page(live):
    h = live.headers("reader")
    text = httpx.get(f"{live.api}/collections/default/documents/velmont.pdf", headers=h).json()["text"]
    start = text.index("Halvorsen")
    r = httpx.get(f"{live.api}/collections/default/documents/velmont.pdf/highlights",
                  params={"start": start, "end": start + 40}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["quote"] == text[start:start + 40]
    assert (body["view"], body["page_first"], body["page_last"]) == ("pdf", 2, 2)
    assert set(body) == {"doc_id", "start", "end", "quote", "view", "page_first", "page_last", "method", "pages"}


@pytest.mark.parametrize("start,end", [(-1, 4), (4, 4), (8, 2), (0, 10**9)])
def test_a_span_outside_the_document_is_422(live, start, end):
    r = httpx.get(f"{live.api}/collections/default/documents/notes.md/highlights",
                  params={"start": start, "end": end}, headers=live.headers("reader"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_span"


def test_a_document_of_another_collection_is_404(live):
    # A key allowed only that other collection, and one allowed both asking through the wrong one.
    for key, collection in (("default-only", "team-a"), ("reader", "default"), ("team-a", "default")):
        for route in ("file", "highlights?start=0&end=4"):
            r = httpx.get(f"{live.api}/collections/{collection}/documents/{live.team_doc}/{route}",
                          headers=live.headers(key))
            assert r.status_code == 404, (key, collection, route)
            assert b"sail at noon" not in r.content


def test_a_removed_document_is_404(live):
    corpus = Path(live.config.corpus_dir)
    r = httpx.post(f"{live.api}/collections/default/documents", headers=live.headers("editor"), timeout=60,
                   files={"files": ("doomed.md", b"# Doomed\n\nThe doomed note is about gulls.\n")})
    doc_id = r.json()["data"][0]["id"]
    assert httpx.get(file_url(live, doc_id), headers=live.headers("reader")).status_code == 200
    httpx.request("DELETE", f"{live.api}/collections/default/documents/{doc_id}", headers=live.headers("editor"))
    r = httpx.get(file_url(live, doc_id), headers=live.headers("reader"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    assert not (corpus / doc_id).exists()


def test_ids_that_climb_out_and_raw_paths_are_404_and_serve_nothing(live):
    corpus = Path(live.config.corpus_dir)
    manifest = next(Path(live.config.index_dir).rglob("manifest.json"))
    ids = ["../secret.txt", "..%2Fsecret.txt", "corpus/../secret.txt", "corpus/..%2Fsecret.txt",
           "%2e%2e/secret.txt", "..%5csecret.txt", str(live.secret), quote(str(live.secret), safe=""),
           os.path.relpath(live.secret), "/etc/passwd", "%2Fetc%2Fpasswd", str(manifest), os.path.relpath(manifest),
           str(corpus / "notes.md"), "./notes.md", "uploads/../notes.md"]
    passwd = Path("/etc/passwd").read_bytes()[:24]
    for doc_id in ids:
        for route in ("file", "highlights?start=0&end=4"):
            status, body = raw_get(live, f"/collections/default/documents/{doc_id}/{route}")
            assert status == 404, (doc_id, route, status)
            assert SECRET.encode() not in body and passwd not in body and b'"documents"' not in body


def test_a_file_changed_after_indexing_is_404_saying_to_re_index(live):
    notes = Path(live.config.corpus_dir) / "notes.md"
    before = notes.read_bytes()
    try:
        notes.write_bytes(before.replace(b"Omari", b"Jomo "))
        r = httpx.get(file_url(live, "notes.md"), headers=live.headers("reader"))
        assert r.status_code == 404 and r.json()["error"]["code"] == "original_not_found"
        assert "re-index" in r.json()["error"]["message"] and b"Jomo" not in r.content
        notes.unlink()
        notes.symlink_to(live.secret)
        r = httpx.get(file_url(live, "notes.md"), headers=live.headers("reader"))
        assert r.status_code == 404 and SECRET.encode() not in r.content
    finally:
        notes.unlink()
        notes.write_bytes(before)
    assert httpx.get(file_url(live, "notes.md"), headers=live.headers("reader")).status_code == 200


def test_without_a_valid_key_nothing_is_served(live):
    for headers in ({}, {"Authorization": "Bearer rag_not_a_key"}):
        r = httpx.get(file_url(live, "notes.md"), headers=headers)
        assert r.status_code == 401 and b"Omari" not in r.content
