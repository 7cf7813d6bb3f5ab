"""`rag index` on a scanned PDF, then `rag search`: the words of page 2 are found and cited p. 2."""

from __future__ import annotations

import json

import pytest

from bench.samples import scanned_pdf
from rag.ingest.ocr import tesseract_path

from ..support.cli import run

pytestmark = [pytest.mark.usefixtures("shared_model"),
              pytest.mark.skipif(tesseract_path() is None, reason="Tesseract is not installed")]

# Page 1 fills more than a passage, so that page 2's sentence starts a passage of its own.
PAGES = [" ".join(f"In {1900 + n} the harbour of Kilwa opened at dawn and the fishing boats left before the tide "
                  f"turned." for n in range(14)),
         "The lighthouse keeper, Amina Said, records every ship that passes the reef in a blue ledger."]


def test_a_sentence_on_page_2_of_a_scan_is_found_and_cited_p_2(tmp_path, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned_pdf(docs / "harbour-scan.pdf", PAGES, dpi=200)
    monkeypatch.setenv("RAG_OCR_DPI", "200")
    index = str(tmp_path / "idx")
    code, out, err = run(capsys, "index", str(docs), "--index", index)
    assert code == 0 and "1 added" in out, err
    code, out, _ = run(capsys, "search", "Who records the ships that pass the reef?", "-k", "1", "--index", index)
    flat = " ".join(out.split())
    assert code == 0 and "harbour-scan.pdf" in flat and "Amina Said" in flat
    code, out, _ = run(capsys, "ask", "Who records every ship that passes the reef?", "--json", "--index", index)
    cited = json.loads(out)["citations"]
    assert code == 0 and cited and "Amina Said" in cited[0]["quote"]
    assert (cited[0]["page_start"], cited[0]["page_end"]) == (2, 2)


def test_ocr_never_names_the_scan_and_the_setting(tmp_path, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned_pdf(docs / "scan.pdf", PAGES[:1], dpi=100)
    (docs / "note.txt").write_text("A note with text.")
    monkeypatch.setenv("RAG_OCR", "never")
    code, out, err = run(capsys, "index", str(docs), "--index", str(tmp_path / "idx"))
    lines = [line for line in err.splitlines() if "scan.pdf" in line]
    assert code == 0 and "1 added" in out and "Traceback" not in err
    assert len(lines) == 1 and 'OCR is off (ocr = "never")' in lines[0]
