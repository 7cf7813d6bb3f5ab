"""Tables inside documents read row by row with their header, in their place among the
paragraphs, so a row answers a question on its own."""

from __future__ import annotations

import json

import pytest

from bench.samples import docx_with_table, pdf_with_table, town_population, town_rows
from rag.ingest.loaders import load_documents
from rag.ingest.tables import is_header, row_line, table_lines

from ..support.cli import run

BERTHS = [["Berth", "Depth (m)", "Daily fee"], ["Eastern pier", "9", "40 shillings"], ["Western quay", "6", "25 shillings"]]


def test_a_word_table_is_read_row_by_row_with_its_header_between_its_paragraphs(tmp_path):
    path = docx_with_table(tmp_path / "harbour.docx", BERTHS, heading="Moorings",
                           before=["Boats moor at two berths."], after=["Fees are paid to the harbour master."])
    (doc,) = load_documents([path]).documents
    assert doc.text == ("Moorings\n\nBoats moor at two berths.\n\n"
                        "Berth: Eastern pier; Depth (m): 9; Daily fee: 40 shillings\n"
                        "Berth: Western quay; Depth (m): 6; Daily fee: 25 shillings\n\n"
                        "Fees are paid to the harbour master.")


def test_merged_word_cells_stand_in_each_row_they_cover(tmp_path):
    rows = [["Region", "Town", "Mayor"], ["Highland", "Arden", "J. Okafor"], ["", "Brill", "M. Lind"],
            ["Coastal", "Cove", ""]]
    # "Highland" merged down two rows; Cove's town and mayor cells merged across.
    path = docx_with_table(tmp_path / "towns.docx", rows, merged=[(1, 0, 2, 0), (3, 1, 3, 2)])
    (doc,) = load_documents([path]).documents
    assert doc.text.split("\n") == ["Region: Highland; Town: Arden; Mayor: J. Okafor",
                                    "Region: Highland; Town: Brill; Mayor: M. Lind", "Region: Coastal; Town: Cove"]


def test_a_two_column_table_is_a_header_only_when_marked_as_one(tmp_path):
    facts = [["Harbour master", "Amina Said"], ["Opening hours", "6 am to 8 pm"]]
    plain = docx_with_table(tmp_path / "facts.docx", facts, bold_header=False)
    assert load_documents([plain]).documents[0].text == "Harbour master | Amina Said\nOpening hours | 6 am to 8 pm"
    fees = docx_with_table(tmp_path / "fees.docx", [["Berth", "Daily fee"], ["Eastern pier", "40 shillings"]])
    assert load_documents([fees]).documents[0].text == "Berth: Eastern pier; Daily fee: 40 shillings"


@pytest.mark.parametrize("repeat_header", [True, False])
def test_a_pdf_table_is_read_row_by_row_with_its_header_on_every_page(tmp_path, repeat_header):
    path = pdf_with_table(tmp_path / "towns.pdf", town_rows(120), before="Figures of the towns of the valley.",
                          repeat_header=repeat_header)
    (doc,) = load_documents([path]).documents
    assert doc.metadata["pages"] >= 2
    lines = doc.text.split("\n")
    assert lines[0] == "Figures of the towns of the valley." and lines[1] == ""
    assert lines[2] == f"Town: Town 1; Region: Coastal; Population: {town_population(1)}; Area (km2): 5.7; Founded: 1901-02-02"
    rows = [line for line in lines if line.startswith("Town: ")]
    assert len(rows) == 120 and not any(line.startswith("Town Region") for line in lines)
    page_2 = doc.metadata["page_starts"][1]
    assert doc.text[page_2:].startswith("Town: ")  # the rows of page 2 keep the header of page 1


def test_prose_in_two_justified_columns_under_a_line_of_labels_is_not_taken_for_a_table(tmp_path):
    from fpdf import FPDF

    text = ("The observatory on the ridge has been run by the regional trust since 1962, and its telescope "
            "Aurora was commissioned in 1988 after a long campaign by local amateurs who raised funds. ") * 4
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for label in ("Annual Report", "Velmont Trust"):
        pdf.cell(60, 6, label)
    pdf.cell(0, 6, "Summary", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y()
    pdf.multi_cell(90, 6, text[:300], align="J")
    pdf.set_xy(110, y)
    pdf.multi_cell(90, 6, text[300:600], align="J")
    pdf.output(str(tmp_path / "prose.pdf"))
    (doc,) = load_documents([tmp_path / "prose.pdf"]).documents
    assert "Annual Report: " not in doc.text and "; " not in doc.text
    assert "by local amateurs who raised funds" in " ".join(doc.text.split())


@pytest.mark.parametrize("row, numeric, header", [
    (["Town", "Population", "Area"], None, True),
    (["Item", "2023", "2024"], None, True),  # years name columns
    (["Town 1", "10037", "5.7"], None, False),  # a first row of data
    (["Town", "Town"], None, False),
    (["Reading", "Value"], [False, True], False),  # the format says the second cell held a number
    (["Note"], None, False),
])
def test_what_counts_as_a_header_row(row, numeric, header):
    assert is_header(row, numeric) is header


def test_rows_leave_out_empty_cells_and_show_unnamed_ones_bare():
    assert row_line(["Town", "", "Area"], ["Arden", "north", ""]) == "Town: Arden; north"
    assert row_line(["Town"], ["Arden", "extra"]) == "Town: Arden; extra"
    assert table_lines([["Town", "Area"]]) == ["Town | Area"]  # only a header: kept as it is


@pytest.mark.usefixtures("shared_model")
def test_a_table_row_is_found_by_its_column_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    docx_with_table(tmp_path / "corpus" / "harbour.docx", BERTHS, heading="Moorings",
                    before=["The Kilwa harbour has two berths for visiting boats."])
    assert run(capsys, "index", "corpus", "--index", "idx")[0] == 0
    code, out, _ = run(capsys, "ask", "What is the daily fee at the Western quay?", "--json", "--index", "idx")
    cited = json.loads(out)["citations"][0]
    assert "Berth: Western quay; Depth (m): 6; Daily fee: 25 shillings" in cited["quote"]
    assert "25 shillings" in json.loads(out)["answer"]
