"""`python -m bench`: the tables as the default command, peers, load and faults as commands of their
own, and nothing of it reachable from the `rag` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("indexing", "embedding", "queries", "scale", "cold-start", "updates", "ray", "backends")


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_help_lists_every_benchmark():
    done = _bench("--help")
    assert done.returncode == 0, done.stderr
    for name in (*TABLES, "peers", "load", "faults"):
        assert f"\n  {name} " in done.stdout or f"\n    {name} " in done.stdout, name


def test_without_a_command_the_options_are_the_tables_ones():
    args = build_parser().parse_args(["--quick", "--corpus", "c.jsonl", "--eval", "a.jsonl", "--eval", "b",
                                      "--out", "out", "--only", "updates", "--sizes", "100k", "--config", "x.toml",
                                      "--index", "idx", "-v", "--debug"])
    assert args.command is None
    assert (args.quick, args.corpus, args.eval, args.out) == (True, Path("c.jsonl"), [Path("a.jsonl"), Path("b")],
                                                              Path("out"))
    assert (args.only, args.sizes, args.config, args.index, args.verbose, args.debug) == (
        ["updates"], "100k", "x.toml", "idx", True, True)


def test_the_commands_take_the_flags_of_their_scripts():
    parser = build_parser()
    peers = parser.parse_args(["peers", "eval/article.jsonl", "d/rgb", "--only", "ours", "--out", "p.json"])
    assert (peers.command, peers.sets, peers.only, peers.out) == (
        "peers", ["eval/article.jsonl", "d/rgb"], ["ours"], Path("p.json"))
    assert parser.parse_args(["peers"]).sets == ["eval/article.jsonl"]
    load = parser.parse_args(["load", "--duration", "10", "--sessions", "5", "--url", "http://h/", "--out", "l.json",
                              "--timeout", "30", "--grace", "5"])
    assert (load.duration, load.sessions, load.url, load.out, load.timeout, load.grace) == (
        10.0, 5, "http://h/", Path("l.json"), 30.0, 5.0)
    assert (parser.parse_args(["load"]).sessions, parser.parse_args(["load"]).duration) == (20, 60.0)
    faults = parser.parse_args(["faults", "--only", "secrets", "--out", "f.json"])
    assert (faults.command, faults.only, faults.out) == ("faults", ["secrets"], Path("f.json"))


def test_the_help_of_peers_and_faults_names_every_pipeline_and_group():
    from bench import faults, peers

    parser = build_parser()
    peers_help = next(a.help for a in parser.parse_args(["peers"]).parser._actions if a.dest == "only")
    faults_help = next(a.help for a in parser.parse_args(["faults"]).parser._actions if a.dest == "only")
    assert all(name in peers_help for name in peers.PIPELINES)
    assert all(group in faults_help for group in faults.groups())


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--quick", "peers"])  # the tables' options before a command would be dropped
    assert exit_.value.code == 2 and "give `peers` first" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["peers", "--only", "nothing"])
    assert exit_.value.code == 2 and "invalid choice: 'nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["load", "--sessions", "0"])
    assert exit_.value.code == 2 and "must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["nosuch"])
    assert exit_.value.code == 2


def test_an_unknown_table_fails_in_one_line_before_any_work():
    done = _bench("--only", "nosuch", "--sizes", "1k")
    assert done.returncode == 1
    assert done.stderr.startswith("bench: error: unknown benchmark(s) nosuch") and "Traceback" not in done.stderr


def test_the_rag_command_has_no_bench():
    from rag.cli import build_parser as rag_parser

    with pytest.raises(SystemExit):
        rag_parser().parse_args(["bench", "--quick"])
