"""The page's source routes (ui.sources) as any client would call them: a document is named by its
id in a collection, never by a path; every "no" is the same 404 and carries none of a file's
bytes; with a login nothing is answered before signing in; pdf.js's route serves only its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rag.app import factory
from rag.app.collections import Collections
from rag.core.config import Config
from tests.support.files import write
from ui.sources import Sources

NOTES = "# Lighthouse notes\n\nThe Zanzibar lighthouse keeper is Omari Juma.\n\nThe lamp is lit at dusk.\n"
SECRET = "TOP-SECRET-7f3a9c: the vault code is 4471"
QUOTE = "The Zanzibar lighthouse keeper is Omari Juma."


@pytest.fixture(scope="module")
def collections(tmp_path_factory, embedder):
    """The default collection with one Markdown file; a secret file beside the corpus."""
    root = tmp_path_factory.mktemp("sources")
    corpus = root / "corpus"
    corpus.mkdir()
    write(corpus / "notes.md", NOTES)
    write(root / "secret.txt", SECRET)
    config = Config(corpus_dir=corpus, index_dir=root / "index")
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    served = Collections(config, embedder=embedder)
    yield served
    served.close()


def client(collections, *, login: bool = False, sees=None, assets: Path | None = None,
           tokens: dict | None = None) -> TestClient:
    """The middleware in front of a stand-in page; `tokens`: the page's signed-in sessions."""
    async def page(request):
        return PlainTextResponse("the page")

    options = {"assets": assets} if assets is not None else {}
    app = Starlette(routes=[Route("/", page)],
                    middleware=[Middleware(Sources, collections=collections, login=login, sees=sees, **options)])
    app.tokens, app.cookie_id = tokens or {}, "test"  # where Gradio keeps its login sessions
    return TestClient(app)


def test_a_document_is_served_by_its_id_with_its_text_and_the_quote_found(collections):
    http = client(collections)
    view = http.get("/rag-source/view", params={"collection": "default", "doc": "notes.md"})
    assert view.status_code == 200 and view.headers["cache-control"] == "private, no-store"
    text = view.json()["text"]
    start = text.index(QUOTE)
    found = http.get("/rag-source/highlights", params={"doc": "notes.md", "start": start, "end": start + len(QUOTE)})
    assert found.status_code == 200 and found.json()["quote"] == QUOTE
    original = http.get("/rag-source/file", params={"doc": "notes.md", "download": "1"})
    assert original.status_code == 200 and original.text == NOTES
    assert original.headers["content-disposition"].startswith("attachment;")
    assert original.headers["x-content-type-options"] == "nosniff"
    assert original.headers["content-security-policy"] == "sandbox"
    assert http.get("/").text == "the page"  # everything else goes on to the page


@pytest.mark.parametrize("params", [
    {"collection": "nope", "doc": "notes.md"},  # a collection that does not exist
    {"collection": "../default", "doc": "notes.md"},
    {"doc": "missing.md"},  # not in the index
    {"doc": "../secret.txt"},  # ids that are paths
    {"doc": "..%2Fsecret.txt"},
    {"doc": "corpus/../../secret.txt"},
    {"doc": "/etc/passwd"},
    {"doc": "SECRET"},
    {"doc": ""},
])
@pytest.mark.parametrize("route", ["file", "view", "highlights", "page.png"])
def test_anything_but_an_indexed_document_is_the_same_404_with_nothing_of_a_file(collections, collections_root,
                                                                                 params, route):
    query = dict(params)
    query.setdefault("doc", "")
    query["doc"] = query["doc"].replace("SECRET", str(collections_root / "secret.txt"))
    if route == "highlights":
        query |= {"start": "0", "end": "5"}
    if route == "page.png":
        query["page"] = "1"
    answer = client(collections).get(f"/rag-source/{route}", params=query)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no such document in this collection"}
    assert "TOP-SECRET" not in answer.text and "root:" not in answer.text


@pytest.fixture(scope="module")
def collections_root(collections):
    return Path(collections.config.corpus_dir).parent


def test_a_span_outside_the_document_is_refused(collections):
    http = client(collections)
    for start, end in (("5", "2"), ("0", "999999"), ("-1", "3"), ("x", "3")):
        answer = http.get("/rag-source/highlights", params={"doc": "notes.md", "start": start, "end": end})
        assert answer.status_code == 422, (start, end)


def test_with_a_login_nothing_is_answered_before_signing_in(collections):
    http = client(collections, login=True, tokens={"tok": "ann"})
    for path in ("/rag-source/file?doc=notes.md", "/rag-source/view?doc=notes.md", "/rag-source/pdfjs/pdf.min.mjs",
                 "/rag-source/file?doc=../secret.txt"):
        answer = http.get(path)
        assert answer.status_code == 401 and "Omari" not in answer.text and "TOP-SECRET" not in answer.text
    http.cookies.set("access-token-test", "forged")
    assert http.get("/rag-source/view?doc=notes.md").status_code == 401
    http.cookies.set("access-token-test", "tok")
    assert http.get("/rag-source/view?doc=notes.md").status_code == 200


def test_a_user_sees_only_the_collections_their_entry_names(collections):
    http = client(collections, login=True, tokens={"tok": "ann"}, sees=lambda user, name: name == "other")
    http.cookies.set("access-token-test", "tok")
    answer = http.get("/rag-source/file?collection=default&doc=notes.md")
    assert answer.status_code == 404 and "Omari" not in answer.text


def test_only_get_is_answered(collections):
    assert client(collections).post("/rag-source/view?doc=notes.md").status_code == 405


def test_pdfjs_files_are_served_from_their_folder_only(collections, tmp_path):
    assets = tmp_path / "pdfjs"
    (assets / "cmaps").mkdir(parents=True)
    (assets / "pdf.min.mjs").write_text("export const ok = 1;")
    (assets / "cmaps" / "Adobe-Japan1-0.bcmap").write_bytes(b"\x00map")
    (tmp_path / "secret.txt").write_text(SECRET)
    (assets / "leak.txt").symlink_to(tmp_path / "secret.txt")  # a link that leads out of the folder
    http = client(collections, assets=assets)
    module = http.get("/rag-source/pdfjs/pdf.min.mjs")
    assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
    assert http.get("/rag-source/pdfjs/cmaps/Adobe-Japan1-0.bcmap").content == b"\x00map"
    for name in ("../secret.txt", "..%2Fsecret.txt", "cmaps/../../secret.txt", "leak.txt", "%2Fetc%2Fpasswd",
                 "cmaps", "", "cmaps//Adobe-Japan1-0.bcmap", "..\\secret.txt"):
        answer = http.get(f"/rag-source/pdfjs/{name}")
        assert answer.status_code == 404, name
        assert "TOP-SECRET" not in answer.text and "root:" not in answer.text
        # the name as it reaches the route, whatever a client makes of the URL
        assert Sources(None, collections=collections, assets=assets).asset(name).status_code == 404, name


def test_a_document_of_another_collection_is_served_only_from_its_own(collections):
    private = "The vault of the Tarvel granary opens at noon."
    added = collections.create("archive").upload("vault.md", f"# Vault\n\n{private}\n".encode())
    doc = added.document.id
    http = client(collections)
    assert private in http.get("/rag-source/view", params={"collection": "archive", "doc": doc}).json()["text"]
    for route in ("file", "view"):
        answer = http.get(f"/rag-source/{route}", params={"collection": "default", "doc": doc})
        assert answer.status_code == 404 and private not in answer.text
