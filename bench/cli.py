"""`python -m bench`: every benchmark of the project behind one command.

    python -m bench --quick --corpus CORPUS --eval SET --out DIR   the tables (the default command)
    python -m bench --only updates --sizes 100k --out DIR          some of the tables
    python -m bench peers SET ... --out FILE                       retrieval beside other pipelines
    python -m bench load --duration 10 --out FILE                  concurrent chat sessions and API clients
    python -m bench faults --out FILE                              fault injection through `rag`
    python -m bench claims --out FILE                              citation verification: faithful vs padded
    python -m bench readers --out FILE                             pages/s of each format's reader, OCR included
    python -m bench viewer --out FILE                              the source viewer opening page 250 of a 300-page PDF
    python -m bench indexing --articles 200 --out FILE             `rag index` vs a plain sentence-transformers encode

Run it from the repository root: the benchmarks read corpus/ and eval/ from there. Each benchmark
module is imported only when its command runs (the peers benchmark sets Hugging Face's offline
switches when it is imported, which the other benchmarks must not inherit).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

COMMANDS = ("peers", "load", "faults", "claims", "readers", "viewer", "indexing")

TABLES = """\
the tables of the default command (--only NAME picks some):
  indexing    plain encode loop vs length-bucketed encoding vs the whole `rag index`
  embedding   PyTorch fp32 vs the int8 ONNX query backend: passages/s, latency, Recall@5 on --eval
  queries     search-only and end-to-end latency on the article: dense, BM25, hybrid
  scale       the article and synthetic corpora (--sizes) written, loaded and queried in a fresh process
  cold-start  `rag ask` in a new process over a built index, with each query backend
  updates     add, remove and merge in a large segmented index; queries segmented vs merged
  ray         `rag index` in one process vs on Ray (only when named: --only ray)
  backends    local vs milvus-lite vs a Milvus server (only when named: --only backends)

Each command has its own options: python -m bench COMMAND --help.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TABLES,
        description="The project's benchmarks. Without a command: indexing throughput, query latency, scale,\n"
                    "updates and more, printed as tables (and written to DIR/bench.json with --out).\n"
                    "Run from the repository root.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (what CI runs)")
    parser.add_argument("--corpus", type=Path, metavar="PATH",
                        help="documents to index for the throughput table (default: corpus/)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="directory to write bench.json into")
    parser.add_argument("--sizes",
                        help="synthetic corpus sizes, e.g. 10k,100k,1M (default: 10k with --quick, else all three)")
    parser.add_argument("--eval", action="append", type=Path, metavar="SET",
                        help="eval set for the embedding-backend recall columns (repeatable; "
                             "default eval/article.jsonl)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark: indexing, embedding, queries, scale, cold-start, updates, "
                             "ray (rag index single-process vs Ray) or backends (local vs milvus-lite vs a "
                             "Milvus server); the last two only when named (repeatable)")
    parser.add_argument("--config", help="TOML settings file (default: ./rag.toml if present)")
    parser.add_argument("--index", metavar="DIR",
                        help="index directory of the settings (default: .rag/index; the benchmarks build their "
                             "indexes in temporary directories)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (or set RAG_DEBUG=1)")

    sub = parser.add_subparsers(dest="command", title="commands (other benchmarks)", metavar="COMMAND")

    def command(name: str, help: str, description: str,
                func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description)
        p.set_defaults(func=func, parser=p)  # the command's own parser, for its usage errors
        return p

    p = command("peers", "this project's retrieval beside LlamaIndex, LangChain-style and BM25 pipelines",
                "This project's retrieval beside LlamaIndex's default pipeline, a LangChain-style pipeline and "
                "BM25 alone, same model, same eval sets (packages: bench/requirements-peers.txt).", _peers)
    p.add_argument("sets", nargs="*", default=["eval/article.jsonl"], metavar="SET[=CORPUS]",
                   help="eval sets: a .jsonl of questions (documents from corpus/ unless =CORPUS is given) "
                        "or a directory with qa.jsonl and corpus.jsonl (default: eval/article.jsonl)")
    p.add_argument("--only", action="append", metavar="PIPELINE",
                   help="run only these pipelines (repeatable; default all: ours, ours-dense, ours-bm25, bm25s, "
                        "llamaindex, langchain)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the results as JSON to this file")

    p = command("load", "concurrent chat sessions and API clients against `rag serve`: throughput and latency",
                "Load test for `rag serve`: concurrent sessions asking through the page's streamed chat "
                "endpoint, then as many API clients streaming /v1/chat/completions, with follow-ups, for a "
                "fixed time each; exit 1 if a single request failed.", _load)
    p.add_argument("--mode", choices=("both", "page", "api"), default="both",
                   help="the page's sessions, the API's clients, or both one after the other (default)")
    p.add_argument("--sessions", type=int, default=20, help="concurrent chat sessions (default 20)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of asking (default 60)")
    p.add_argument("--url", help="a running app; default: start `rag serve` over corpus/ on a free port")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the figures to this JSON file")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for one answer (default 60)")
    p.add_argument("--grace", type=float, default=60.0,
                   help="seconds after --duration before the run is cut off (default 60)")

    p = command("faults", "every bad input and fault we know of, through the real `rag` command",
                "Fault injection: every bad input and fault we know of, through the real `rag` command; one "
                "table of what went wrong, exit 1 if any case failed.", _faults)
    p.add_argument("--only", action="append", metavar="GROUP",
                   help="run one group (repeatable): data loss, secrets, resources, no traceback, bad input, web page, web, mail, ocr, watch")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="write the cases as JSON to this file (default reports/bench/faults.json)")

    p = command("claims", "citation verification on faithful and padded sentences about the seed article",
                "Citation verification on sentences a model would write about the seed article: faithful "
                "paraphrases kept, sentences padded with a claim the article does not make dropped "
                "(precision, recall; tuning and held-out halves).", _claims)
    p.add_argument("--out", type=Path, metavar="FILE", help="write the figures as JSON to this file")

    p = command("readers", "pages per second of each format's reader, OCR included",
                "Pages per second of each format's reader through the loader `rag index` uses, on files built "
                "by bench/samples.py (an A4 page of prose each); formats read by OCR are measured on one page "
                "and on --ocr-pages.", _readers)
    p.add_argument("--pages", type=int, default=50, help="pages per file of the formats with text (default 50)")
    p.add_argument("--ocr-pages", type=int, default=10, help="pages of the formats read by OCR (default 10)")
    p.add_argument("--only", action="append", metavar="FORMAT", help="measure only these formats (repeatable)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the figures as JSON to this file")

    p = command("viewer", "the source viewer opening a long PDF at a cited page, highlight included",
                "The source viewer opening page --page of a --pages-page PDF with a cited sentence highlighted: "
                "the highlight's computation (fresh process and warm), and the whole open in headless Chromium "
                "against `rag serve` (first and repeated).", _viewer)
    p.add_argument("--pages", type=int, default=300, help="pages of the PDF (default 300)")
    p.add_argument("--page", type=int, default=250, help="the page opened (default 250)")
    p.add_argument("--repeat", type=int, default=3, help="warm repeats of each measure (default 3)")
    p.add_argument("--no-browser", action="store_true", help="measure the server's part only")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the figures as JSON to this file")

    p = command("indexing", "`rag index` beside a plain sentence-transformers encode: speed, memory, quality",
                "`rag index` over the first --articles articles of a set, then a plain sentence-transformers "
                "`encode` of the same model over the same passages into a FAISS IndexFlatIP, each in a fresh "
                "process on the same threads, one after the other: passages/s, tokens/s, word pieces/s, peak "
                "RSS, and recall@5 / MRR@10 of each one's vectors; exit 1 if the passages/s ratio is under "
                "--fail-under-ratio or a quality delta exceeds 0.005.", _indexing)
    p.add_argument("--dataset", type=Path, metavar="DIR",
                   help="a set with corpus.jsonl and qa.jsonl (default: $SHARED/datasets/realtimeqa_2023, "
                        "$SHARED being ../shared from the repository root unless set)")
    p.add_argument("--articles", type=int, metavar="N", help="index the first N articles of corpus.jsonl (default all)")
    p.add_argument("--threads", type=int, metavar="T", help="cores both pipelines run on (default: all)")
    p.add_argument("--fail-under-ratio", type=float, metavar="R",
                   help="exit 1 when ours passages/s divided by the plain encode's is under R")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the figures as JSON to this file")
    return parser


def _tables(args: argparse.Namespace) -> int:
    from bench.main import parse_size, run
    from rag.core.config import Config

    sizes = [parse_size(s) for s in args.sizes.split(",")] if args.sizes else None
    config = Config.load(args.config, index_dir=args.index)
    run(quick=args.quick, corpus=args.corpus, out=args.out, config=config, sizes=sizes,
        eval_sets=args.eval or (), only=args.only or ())
    return 0


def _peers(args: argparse.Namespace) -> int:
    from bench import peers

    unknown = [p for p in args.only or () if p not in peers.PIPELINES]
    if unknown:
        args.parser.error(f"argument --only: invalid choice: {unknown[0]!r} (choose from "
                          f"{', '.join(map(repr, peers.PIPELINES))})")
    return peers.command(args)


def _load(args: argparse.Namespace) -> int:
    from bench import load

    if args.sessions < 1 or args.duration <= 0:
        args.parser.error("--sessions and --duration must be positive")
    return load.command(args)


def _faults(args: argparse.Namespace) -> int:
    from bench import faults

    return faults.command(args)


def _readers(args: argparse.Namespace) -> int:
    from bench import readers

    return readers.command(args)


def _viewer(args: argparse.Namespace) -> int:
    from bench import viewer

    return viewer.command(args)


def _indexing(args: argparse.Namespace) -> int:
    import os

    from bench import indexing_speed

    cores = len(os.sched_getaffinity(0))
    args.threads = cores if args.threads is None else args.threads
    if not 1 <= args.threads <= cores:
        args.parser.error(f"argument --threads: choose 1 to {cores} (the cores this process may use)")
    if args.articles is not None and args.articles < 1:
        args.parser.error("argument --articles: must be positive")
    return indexing_speed.command(args)


def _claims(args: argparse.Namespace) -> int:
    from bench import claims

    return claims.command(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command:
        if argv[0] != args.command:  # argparse would drop the options given before it
            parser.error(f"give `{args.command}` first: the options before it belong to the default command")
        return args.func(args)
    return _run_tables(args)


def _run_tables(args: argparse.Namespace) -> int:
    """The default command, run as `rag` runs its commands (rag.cli.run_command)."""
    from rag.cli import run_command

    return run_command("bench", lambda: _tables(args), verbose=args.verbose, debug=args.debug,
                       own_loggers=("rag", "bench"))
