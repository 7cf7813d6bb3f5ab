"""`python -m bench readers`: every format in MAKERS builds a file its reader reads."""

from __future__ import annotations

import pytest

from bench.readers import MAKERS, measure


@pytest.mark.parametrize("name", [name for name, (_, ocr) in MAKERS.items() if not ocr])
def test_each_text_format_of_the_readers_benchmark_is_read_whole(tmp_path, name):
    row = measure(name, 3, tmp_path)
    assert row["pages"] == 3 and row["pages_per_s"] > 0
    assert row["chars"] > 3 * 2_000  # three pages of about 3,000 characters each
