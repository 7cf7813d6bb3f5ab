"""Spreadsheets as people keep them: an Excel workbook of several sheets, CSV and TSV exports,
and a sheet far larger than one file may cost. Each row is read with its column names, so a row
answers a question on its own."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from bench.samples import csv_file, town_population, town_rows, xlsx_file
from rag.ingest.chunking import Chunker
from rag.ingest.loaders import FileLimits, load_documents, load_text_document

from ..support.cli import run

NOTES = [["Topic", "Note"], ["Rivers", "The Ard river floods every March."], ["Bridges", "The stone bridge dates from 1402."]]


@pytest.fixture(scope="module")
def towns_xlsx(tmp_path_factory):
    return xlsx_file(tmp_path_factory.mktemp("xlsx") / "towns.xlsx", {"Towns": town_rows(1000), "Notes": NOTES})


def test_each_row_is_a_line_with_its_column_names_and_each_sheet_a_section(towns_xlsx):
    (doc,) = load_documents([towns_xlsx]).documents
    assert doc.metadata["type"] == "xlsx" and doc.title == "towns"  # the file's name, not a sheet's
    row = f"Town: Town 417; Region: Highland; Population: {town_population(417)}; Area (km2): 26.9; Founded: 1957-10-26"
    assert row + "\n" in doc.text
    assert "Topic: Rivers; Note: The Ard river floods every March." in doc.text
    assert "Town | Region" not in doc.text  # the header travels with each row instead
    assert [s[2] for s in doc.metadata["sections"]] == ["Towns", "Notes"]
    chunks = Chunker(chunk_tokens=160, chunk_overlap=32, context=True).chunk(doc)
    holding = [c for c in chunks if row in c.text]
    assert holding and all(c.text == doc.text[c.start:c.end] for c in chunks)
    for c in holding:  # whole rows only, under their sheet's name
        assert c.metadata["section"] == "Towns" and c.header == "towns · Towns"
        assert all(line.startswith("Town: ") for line in c.text.split("\n"))
    assert next(c for c in chunks if "Ard river" in c.text).metadata["section"] == "Notes"


def test_merged_cells_formulas_dates_and_empty_sheets(tmp_path):
    path = xlsx_file(tmp_path / "ledger.xlsx", {
        "Ledger": [["Region", "Town", "Opened", "Total"], [None, "Arden", dt.datetime(2024, 5, 3, 14, 30), None],
                   [None, "Brill", dt.date(2023, 1, 9), None], ["Coastal", "Cove", None, None]],
        "Blank": [],
    }, merged={"Ledger": [("A2:A3", "Highland")]}, formulas={"Ledger": [("D2", "=2+2", 4), ("D3", "=B1", "Town")]},
        title="Ledger 2024")
    (doc,) = load_documents([path]).documents
    assert doc.title == "Ledger 2024"
    lines = doc.text.split("\n")
    # The merged region stands beside each of its towns; a formula gives its saved value; dates are ISO.
    assert "Region: Highland; Town: Arden; Opened: 2024-05-03 14:30; Total: 4" in lines
    assert "Region: Highland; Town: Brill; Opened: 2023-01-09; Total: Town" in lines
    assert "Region: Coastal; Town: Cove" in lines
    assert [s[2] for s in doc.metadata["sections"]] == ["Ledger"]  # the empty sheet adds nothing


def test_a_title_above_the_table_is_a_line_of_its_own_and_the_header_is_the_row_under_it(tmp_path):
    path = csv_file(tmp_path / "census.csv", [["Census of the valley, 2024"], [], ["Source: county office"],
                                              *town_rows(3)])
    (doc,) = load_documents([path]).documents
    lines = doc.text.split("\n")
    assert lines[:2] == ["Census of the valley, 2024", "Source: county office"]
    assert lines[2].startswith("Town: Town 1; Region: Coastal; Population: 10037;") and len(lines) == 5


def test_a_sheet_without_a_header_row_is_read_as_plain_rows(tmp_path):
    path = xlsx_file(tmp_path / "readings.xlsx", {"Readings": [[1, 20.5, 3], [2, 21.25, 4]]})
    doc = load_text_document("readings.xlsx", path.read_bytes())
    assert "1 | 20.5 | 3\n2 | 21.25 | 4" in doc.text


@pytest.mark.parametrize("name, delimiter", [("towns.csv", ","), ("semicolons.csv", ";"), ("towns.tsv", "\t")])
def test_csv_and_tsv_rows_carry_their_header(tmp_path, name, delimiter):
    rows = town_rows(30) + [["Town 31", "Coastal, north shore", 12, "", ""]]
    (doc,) = load_documents([csv_file(tmp_path / name, rows, delimiter=delimiter)]).documents
    assert doc.metadata["type"] == name.rsplit(".", 1)[1]
    assert f"Town: Town 17; Region: Highland; Population: {town_population(17)}; Area (km2): 16.9; " \
           "Founded: 1917-06-18" in doc.text
    assert "Town: Town 31; Region: Coastal, north shore; Population: 12\n" in doc.text + "\n"
    assert doc.title == name.rsplit(".", 1)[0]


def test_a_100000_row_csv_is_read_up_to_max_file_chars_and_says_how_much(tmp_path, caplog):
    path = csv_file(tmp_path / "big.csv", town_rows(100_000))
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        (doc,) = load_documents([path], limits=FileLimits(max_chars=200_000)).documents
    assert len(doc.text) <= 200_000
    kept = doc.text.count("\n") + 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"read {kept + 1:,} of 100,001 rows" in line and "max_file_chars (200,000 characters)" in line
    assert str(path) in line and "\n" not in line
    assert doc.metadata["partial"] in line
    assert doc.text.endswith(f"Town: Town {kept}; Region: {town_rows(kept)[-1][1]}; Population: "
                             f"{town_population(kept)}; Area (km2): {town_rows(kept)[-1][3]}; "
                             f"Founded: {town_rows(kept)[-1][4].isoformat()}")


@pytest.mark.parametrize("suffix, says", [(".xlsx", "sheet 'Towns' not read"), (".csv", "read 1 of 1,001 rows")])
def test_a_sheet_too_slow_to_read_whole_is_cut_at_its_share_of_max_parse_seconds(tmp_path, suffix, says):
    from rag.ingest.formats import extract

    path = tmp_path / f"towns{suffix}"
    data = (xlsx_file(path, {"Towns": town_rows(1000)}) if suffix == ".xlsx" else csv_file(path, town_rows(1000)))
    (warning,) = extract(suffix, data.read_bytes(), max_chars=None, seconds=0).warnings  # no time at all
    assert warning.startswith(says)
    assert warning.endswith("reading took 60% of max_parse_seconds (0 s); raise max_parse_seconds to index the rest")


def test_a_binary_file_named_csv_is_skipped_with_one_reason(tmp_path):
    (tmp_path / "data.csv").write_bytes(b"a,b\n" + b"\x00\x01\x02" * 1000)
    result = load_documents([tmp_path / "data.csv"])
    assert not result.documents and "binary" in result.skipped[0].reason


@pytest.mark.usefixtures("shared_model")
def test_rag_answers_a_row_by_its_column_name_and_cites_the_row(tmp_path, monkeypatch, capsys, towns_xlsx):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "towns.xlsx").write_bytes(towns_xlsx.read_bytes())
    assert run(capsys, "index", "corpus", "--index", "idx")[0] == 0
    code, out, _ = run(capsys, "ask", "What is the population of Town 417?", "--json", "--index", "idx")
    answer = json.loads(out)
    population = str(town_population(417))
    assert population in answer["answer"]
    cited = answer["citations"][0]
    assert cited["doc_id"] == "towns.xlsx" and "Town: Town 417;" in cited["quote"] and population in cited["quote"]
    code, out, _ = run(capsys, "search", "When does the Ard river flood?", "--json", "--index", "idx", "-k", "1")
    (hit,) = json.loads(out)
    assert "Ard river floods every March" in hit["text"] and hit["metadata"]["section"] == "Notes"


@pytest.mark.usefixtures("shared_model")
def test_rag_index_says_how_much_of_a_long_sheet_it_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    csv_file(tmp_path / "corpus" / "big.csv", town_rows(100_000))
    monkeypatch.setenv("RAG_MAX_FILE_CHARS", "8000")
    code, out, err = run(capsys, "index", "corpus", "--index", "idx")
    assert code == 0 and "1 added" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("corpus/big.csv: indexed in part: read 90 of 100,001 rows")
    code, out, _ = run(capsys, "search", "population of Town 42", "--json", "--index", "idx", "-k", "1")
    assert "Town: Town 42;" in json.loads(out)[0]["text"]


@pytest.mark.usefixtures("shared_model")
def test_an_uploaded_long_sheet_says_in_its_status_how_much_was_read(tmp_path, config):
    from dataclasses import replace

    from rag.app import factory
    from rag.indexing.uploads import ingest

    data = csv_file(tmp_path / "big.csv", town_rows(5_000)).read_bytes()
    indexer = factory.indexer(replace(config, max_file_chars=6_000))
    result = ingest("big.csv", data, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", indexer=indexer)
    assert result.status().startswith("uploads/big.csv: indexed (")
    assert "; in part: read 68 of 5,001 rows: the text reached max_file_chars (6,000 characters)" in result.status()
