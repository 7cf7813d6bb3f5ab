"""How well citation verification tells faithful sentences from padded ones, on the seed article.

    python -m bench claims [--out FILE]

`bench/claims_article.jsonl` holds sentences a model would write about corpus/imu-pakistan-2014.txt:
faithful paraphrases, and the same kind of sentences carrying one claim the article does not make
(a name, a number, a password, an instruction). Each is cited to the passage (a chunk, as `rag
index` cuts the article) holding what it paraphrases, with every passage of the article given, as
a model sees its retrieved passages. A padded sentence the verifier drops is a true positive; a
faithful one it drops is a false positive. The set is split once (fixed seed) into a tuning and a
held-out half, and both are reported.

Only `verify` and the records are used, so the same file measures another checkout of the library:
`PYTHONPATH=OTHER python bench/claims.py`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SET = Path(__file__).with_name("claims_article.jsonl")
ARTICLE = ROOT / "corpus" / "imu-pakistan-2014.txt"


def passages():
    from rag.core.config import Config
    from rag.core.records import Hit
    from rag.ingest.chunking import Chunker
    from rag.ingest.loaders import load_documents

    config = Config()
    document = load_documents([ARTICLE]).documents[0]
    chunks = Chunker(config.chunk_tokens, config.chunk_overlap, config.encoding).chunk(document)
    return [Hit(chunk=c, score=1.0 / (i + 1), rank=i + 1) for i, c in enumerate(chunks)]


def load_set(path: Path = SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def halves(rows: list[dict], seed: int = 0) -> dict[str, set[str]]:
    ids = sorted(r["id"] for r in rows)
    random.Random(seed).shuffle(ids)
    return {"tuning": set(ids[: len(ids) // 2]), "held-out": set(ids[len(ids) // 2:])}


def cited(sentence: str, marker: int) -> str:
    """The sentence as a model writes it: the marker before the final full stop."""
    body = sentence.rstrip().rstrip(".")
    return f"{body} [{marker}]."


def run(rows: list[dict]) -> list[dict]:
    from rag.generators.citations import verify

    hits = passages()
    out = []
    for row in rows:
        found = [i for i, h in enumerate(hits, 1) if row["anchor"] in h.chunk.text]
        if not found:
            raise SystemExit(f"{row['id']}: anchor {row['anchor']!r} is in no passage")
        checked = verify(cited(row["sentence"], found[0]), hits)
        out.append({**row, "kept": not checked.abstained, "text": checked.text,
                    "notes": [n for n in checked.notes if "removed a sentence" in n or "re-attributed" in n]})
    return out


def scores(results: list[dict]) -> dict[str, float]:
    """Dropping a padded sentence is a true positive, dropping a faithful one a false positive."""
    tp = sum(1 for r in results if r["kind"] == "padded" and not r["kept"])
    fp = sum(1 for r in results if r["kind"] == "faithful" and not r["kept"])
    fn = sum(1 for r in results if r["kind"] == "padded" and r["kept"])
    faithful = sum(1 for r in results if r["kind"] == "faithful")
    return {"precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
            "faithful_kept": round((faithful - fp) / faithful, 3) if faithful else 1.0,
            "padded": tp + fn, "faithful": faithful}


def report(results: list[dict]) -> dict:
    parts = halves(results)
    return {"all": scores(results),
            **{name: scores([r for r in results if r["id"] in ids]) for name, ids in parts.items()},
            "dropped_faithful": [r["sentence"] for r in results if r["kind"] == "faithful" and not r["kept"]],
            "kept_padded": [r["sentence"] for r in results if r["kind"] == "padded" and r["kept"]]}


def command(args: argparse.Namespace) -> int:
    figures = report(run(load_set()))
    print(f"{'part':10} {'precision':>9} {'recall':>7} {'faithful kept':>13}  (padded/faithful)")
    for name in ("tuning", "held-out", "all"):
        s = figures[name]
        print(f"{name:10} {s['precision']:9.3f} {s['recall']:7.3f} {s['faithful_kept']:13.3f}  "
              f"({s['padded']}/{s['faithful']})")
    for title, key in (("faithful sentences dropped", "dropped_faithful"), ("padded sentences kept", "kept_padded")):
        if figures[key]:
            print(f"\n{title}:")
            for sentence in figures[key]:
                print(f"  {sentence}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="citation verification on faithful and padded sentences")
    parser.add_argument("--out", type=Path)
    sys.exit(command(parser.parse_args()))
