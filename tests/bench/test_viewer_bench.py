"""`python -m bench viewer`: the server's part on a short PDF, the closing line always printed."""

from __future__ import annotations

from bench.cli import main


def test_the_viewer_benchmark_finds_the_cited_sentence_on_its_page_and_says_how_long_it_took(capsys):
    assert main(["viewer", "--pages", "6", "--page", "5", "--repeat", "1", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert "highlight compute, warm" in out and "| 6" not in out
    assert out.strip().splitlines()[-1].startswith("viewer: page 5 of 6 not opened in a browser: not run (--no-browser)")


def test_a_page_beyond_the_pdf_is_a_usage_error(capsys):
    try:
        main(["viewer", "--pages", "6", "--page", "7", "--no-browser"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("no usage error")
    assert "--page must be between 1 and --pages (6)" in capsys.readouterr().err
