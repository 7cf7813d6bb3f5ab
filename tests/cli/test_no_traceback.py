"""Every mistake a user can make on the command line ends in one line that says what to do.

Each case runs the real `rag` in a fresh process and checks what the user sees: a non-zero exit,
one line naming the setting, flag or path, and no traceback. The cases fail before the embedding
model loads, so each costs about the start-up of Python.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from rag.cli import main
from rag.core.config import RANGES, Config
from rag.core.errors import ConfigError

from ..conftest import ROOT
from ..support.cli import rag

EVAL_SET = ROOT / "eval" / "article.jsonl"


def assert_one_line(proc: subprocess.CompletedProcess, *must_say: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: error: "), proc.stderr
    for words in must_say:
        assert words in lines[0]
    return lines[0]


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Lighthouses guide ships along rocky coasts.")
    (tmp_path / "a-file").write_text("not a directory")
    return tmp_path


CASES = [
    pytest.param("", ["serve", "--port", "99999"], {}, ["--port", "99999", "1-65535"], id="port-out-of-range"),
    pytest.param("", ["serve", "--port", "-1"], {}, ["--port"], id="negative-port"),
    pytest.param('rag = "x"\n', ["search", "q"], {}, ["rag.toml", "table", "string"], id="rag-is-a-string"),
    pytest.param("rag = 5\n", ["search", "q"], {}, ["rag.toml", "table", "number"], id="rag-is-a-number"),
    pytest.param("rag = [1, 2]\n", ["search", "q"], {}, ["rag.toml", "table", "list"], id="rag-is-a-list"),
    pytest.param("[retrieval]\nrrf_k = -1\n", ["search", "q"], {}, ["rrf_k", "-1"], id="rrf_k-negative"),
    pytest.param("[retrieval]\nfusion = \"max\"\n", ["search", "q"], {}, ["fusion", "rrf, scores", "'max'"],
                 id="fusion-unknown"),
    pytest.param("[retrieval]\nk = 2.5\n", ["search", "q"], {}, ["k=2.5", "whole number"], id="k-not-whole"),
    pytest.param("[retrieval]\nkk = 3\n", ["search", "q"], {}, ["'kk'", "[retrieval]", "k, mode"],
                 id="unknown-key-in-a-section"),
    pytest.param("[retrival]\nk = 3\n", ["search", "q"], {}, ["[retrival]", "'retrieval'"], id="unknown-section"),
    pytest.param("", ["search", "q"], {"RAG_DEDUP_SIMILARITY": "nan"}, ["dedup_similarity"], id="nan-setting"),
    pytest.param("", ["search", "q"], {"RAG_FOLLOW_EXTERNAL_SYMLINKS": "maybe"}, ["follow_external_symlinks"],
                 id="bool-not-a-bool"),
    pytest.param("", ["index", "corpus", "--index", "a-file"], {}, ["a-file", "is a file", "--index"],
                 id="index-is-a-file"),
    pytest.param("", ["search", "q", "--index", "a-file"], {}, ["a-file", "is a file"], id="search-index-is-a-file"),
    pytest.param("", ["index", "corpus", "--index", "a-file/sub/index"], {}, ["cannot create", "a-file/sub/index"],
                 id="index-uncreatable"),
    pytest.param("", ["serve", "--index", "a-file/index"], {}, ["cannot create", "a-file/index"],
                 id="serve-index-uncreatable"),
    pytest.param("", ["eval", str(EVAL_SET), "--out", "a-file"], {}, ["a-file", "--out"], id="eval-out-is-a-file"),
    pytest.param("", ["search", "q"], {"RAG_CONFIG": "missing.toml"}, ["missing.toml", "RAG_CONFIG"],
                 id="rag-config-missing"),
    pytest.param("", ["search", "q"], {"RAG_CONFIG": ""}, ["RAG_CONFIG is empty"], id="rag-config-empty"),
    pytest.param("", ["--config", "corpus", "search", "q"], {}, ["corpus", "not a file"], id="config-is-a-dir"),
    pytest.param("", ["index", "corpus"], {"RAG_INDEX_DIR": ""}, ["index_dir is empty"], id="empty-index-env"),
    pytest.param("", ["index", "corpus", "--index", ""], {}, ["index_dir is empty"], id="empty-index-flag"),
    pytest.param("", ["index"], {"RAG_CORPUS_DIR": ""}, ["corpus_dir is empty"], id="empty-corpus-env"),
]


@pytest.mark.parametrize("toml, args, env, must_say", CASES)
def test_a_bad_setting_or_flag_is_one_line_and_a_non_zero_exit(workdir, toml, args, env, must_say):
    if toml:
        (workdir / "rag.toml").write_text(toml)
    before = sorted(p.name for p in workdir.iterdir())
    assert_one_line(rag(workdir, *args, env=env), *must_say)
    assert sorted(p.name for p in workdir.iterdir()) == before, "nothing is created by a refused command"


def test_a_port_in_use_is_named_before_anything_loads(workdir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line(rag(workdir, "serve", "--port", str(port)), str(port), "in use", "--port")
    assert "127.0.0.1" in line


def test_eval_refuses_a_report_path_under_a_file_before_the_run(workdir):
    assert_one_line(rag(workdir, "eval", str(EVAL_SET), "--out", "a-file/report"), "a-file/report", "--out")


def numeric_settings() -> list[str]:
    defaults = Config()
    return [f.name for f in fields(Config) if isinstance(getattr(defaults, f.name), (int, float))
            and not isinstance(getattr(defaults, f.name), bool)]


def test_every_numeric_setting_has_a_range():
    assert sorted(numeric_settings()) == sorted(RANGES)


@pytest.mark.parametrize("name", numeric_settings())
def test_every_numeric_setting_out_of_range_is_refused_at_load_by_name(name, monkeypatch):
    low, high = RANGES[name]
    integer = isinstance(getattr(Config(), name), int)
    below = low - 1 if integer else low - 0.5
    for bad in [below, *([high + 1] if high is not None else []), "nan" if not integer else "x"]:
        monkeypatch.setenv(f"RAG_{name.upper()}", str(bad))
        with pytest.raises(ConfigError, match=name):
            Config.load()
    monkeypatch.setenv(f"RAG_{name.upper()}", str(getattr(Config(), name)))
    Config.load()  # the default itself is in range


@pytest.mark.parametrize("exc, must_say", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/index/tmp-v7/vectors.npy"),
     ["/data/index/tmp-v7/vectors.npy", "No space left", "free some space"]),
    (PermissionError(errno.EACCES, "Permission denied", "/data/index"), ["/data/index", "permissions"]),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/index"), ["/mnt/ro/index", "read-only"]),
])
def test_an_os_error_anywhere_is_one_line_naming_the_path(monkeypatch, capsys, exc, must_say):
    def fail(args):
        raise exc

    monkeypatch.setattr("rag.cli.cmd_search", fail)
    assert main(["search", "q"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for words in must_say:
        assert words in err


def test_an_unexpected_error_shows_no_traceback_unless_debugging(monkeypatch, capsys):
    def fail(args):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr("rag.cli.cmd_search", fail)
    assert main(["search", "q"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ValueError: an internal invariant broke" in err and "--debug" in err
    with pytest.raises(ValueError):
        main(["--debug", "search", "q"])
    monkeypatch.setenv("RAG_DEBUG", "1")
    with pytest.raises(ValueError):
        main(["search", "q"])


@pytest.mark.slow
def test_indexing_a_corpus_of_pipes_and_broken_links_finishes_and_names_each(workdir):
    corpus = workdir / "corpus"
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "gone.md").symlink_to(corpus / "nowhere.md")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "outside.txt").symlink_to(workdir / "a-file")
    try:
        proc = rag(workdir, "index", "corpus", "--index", "idx")
    finally:
        try:
            os.close(os.open(corpus / "pipe.txt", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "1 added" in proc.stdout and "4 skipped" in proc.stdout
    lines = proc.stderr.strip().splitlines()
    for name, reason in {"pipe.txt": "named pipe", "gone.md": "broken symlink", "loop.txt": "symlink loop",
                         "outside.txt": "follow_external_symlinks"}.items():
        (line,) = [ln for ln in lines if f"/{name}: " in ln]
        assert reason in line
