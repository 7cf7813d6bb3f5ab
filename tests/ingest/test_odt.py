"""OpenDocument text (.odt): headings as sections, tables row by row under their header."""

from __future__ import annotations

from bench.samples import odt_file
from rag.ingest.loaders import load_documents

BLOCKS = [(1, "Harbour fees"), "Fees are charged per ship and per day.",
          [["Vessel", "Fee per day"], ["Dhow", "12 shillings"], ["Steamer", "40 shillings"]],
          (2, "Exemptions"), "Fishing boats pay nothing."]


def test_headings_are_sections_and_each_table_row_carries_its_header(tmp_path):
    [doc] = load_documents([odt_file(tmp_path / "fees.odt", "Kilwa harbour fees", BLOCKS)]).documents
    assert doc.title == "Kilwa harbour fees"
    assert doc.metadata["byline"] == "Ann Writer" and doc.metadata["date"] == "2024-05-01"
    assert [(level, heading) for _, level, heading in doc.metadata["sections"]] == [(1, "Harbour fees"),
                                                                                     (2, "Exemptions")]
    assert "Vessel: Steamer; Fee per day: 40 shillings" in doc.text
    assert doc.text.index("Fees are charged") < doc.text.index("Dhow") < doc.text.index("Fishing boats")
    exemptions = next(start for start, _, heading in doc.metadata["sections"] if heading == "Exemptions")
    assert doc.text[exemptions:].startswith("Exemptions\n\nFishing boats pay nothing.")


def test_a_document_without_a_title_property_takes_its_first_heading(tmp_path):
    [doc] = load_documents([odt_file(tmp_path / "fees.odt", "", BLOCKS)]).documents
    assert doc.title == "Harbour fees"


def test_a_corrupt_odt_is_skipped_with_one_reason(tmp_path):
    (tmp_path / "broken.odt").write_bytes(b"PK\x03\x04 not really a zip")
    result = load_documents([tmp_path / "broken.odt"])
    assert not result.documents and "\n" not in result.skipped[0].reason
    assert "OpenDocument" in result.skipped[0].reason
