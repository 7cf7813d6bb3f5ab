"""Zip-based files (Word now; any format stored as a zip of XML parts) are judged by what they
declare they unpack to, before any of it is unpacked."""

from __future__ import annotations

import os

import pytest

from bench.faults import zipped
from rag.core.errors import ParseLimitError
from rag.ingest.archives import ZipLimits, check_zip
from rag.ingest.loaders import FileLimits, load_text_document

from ..support.document_files import harbour_docx

MB = 2**20


def test_a_member_that_unpacks_a_thousandfold_is_refused_naming_it_and_the_setting():
    bomb = zipped({"mimetype": b"application/epub+zip", "OEBPS/chapter1.xhtml": b"<p>a</p>" * (8 * MB)})
    assert len(bomb) < 200_000  # 64 MB unpacked
    with pytest.raises(ParseLimitError, match=r"'OEBPS/chapter1.xhtml' unpacks .*max_zip_ratio \(100\)"):
        check_zip(bomb, ZipLimits())


def test_many_members_each_under_the_ratio_floor_are_judged_together():
    bomb = zipped({f"part{i}.xml": b"<r/>" * 200_000 for i in range(100)})  # 100 x 0.8 MB of the same tag
    with pytest.raises(ParseLimitError, match="max_zip_ratio"):
        check_zip(bomb, ZipLimits())


def test_an_archive_over_max_unzipped_mb_is_refused_even_when_it_does_not_compress():
    incompressible = zipped({"media/image1.png": os.urandom(3 * MB)})
    check_zip(incompressible, ZipLimits())
    with pytest.raises(ParseLimitError, match=r"max_unzipped_mb \(2 MB\)"):
        check_zip(incompressible, ZipLimits(max_unzipped_mb=2))


def test_real_word_files_and_files_that_are_not_zips_pass(tmp_path):
    check_zip(harbour_docx(tmp_path / "h.docx").read_bytes(), ZipLimits())  # styles.xml unpacks 30-fold
    check_zip(b"PK\x03\x04 not really a zip", ZipLimits())
    check_zip(b"", ZipLimits())


def test_the_loader_checks_a_docx_before_it_is_parsed():
    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:p/>" * (8 * MB)})
    with pytest.raises(ParseLimitError, match="decompression bomb"):
        load_text_document("report.docx", bomb, limits=FileLimits())
