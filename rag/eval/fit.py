"""Fit the short-answer scorer on the tuning halves, and the threshold that gives a target precision.

    rag eval eval/article.jsonl --split tune --out reports/eval/article-tune      # and the other sets
    python -m rag.eval.fit reports/eval/*-tune/questions.jsonl --features support,span_margin,... \
        --out rag/generators/extractive/span_model.json

Each question's best span (shown or not) comes with the evidence the scorer weighs and whether it is
right (token F1 >= 0.5 against a gold answer; any span is wrong on an unanswerable question). A
logistic model is fitted to that, its L2 strength chosen by cross-validation inside the tuning
rows, and the threshold is set where the *cross-validated* confidences reach the target precision:
confidences a model gives the rows it was fitted on flatter it. Rows of a held-out half are refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.core.errors import DatasetError
from rag.eval import metrics as M

STRENGTHS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5


@dataclass(frozen=True)
class Row:
    source: str
    id: str
    evidence: dict[str, float]
    right: float
    answerable: bool


def read_rows(paths: Sequence[Path], features: Sequence[str] = ()) -> list[Row]:
    """The tuning rows of `paths`; with `features`, only that evidence is kept."""
    rows = []
    for path in paths:
        lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            continue
        method = lines[0]["method"]  # the configured retrieval comes first; the baselines follow
        for r in lines:
            if r["method"] != method or not r.get("candidate_evidence"):
                continue
            if r.get("split") != "tune":
                raise DatasetError(f"{path}: question {r['id']} is in the {r.get('split') or 'unknown'} half; "
                                   "fit on tuning halves only (rag eval --split tune)")
            evidence = {k: v for k, v in r["candidate_evidence"].items() if not features or k in features}
            rows.append(Row(str(path), r["id"], evidence,
                            float(r["answerable"] and r["candidate_f1"] >= M.RIGHT_F1), r["answerable"]))
    if len(rows) < 20:
        raise DatasetError(f"{len(rows)} spans to fit on; run rag eval --split tune on the evaluation sets first")
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, strength: float) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (the bias is not regularised)."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    penalty = np.diag([strength] * d + [0.0])
    w = np.zeros(d + 1)
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -60, 60)))
        grad = design.T @ (p - y) + penalty @ w
        hess = (design * (p * (1 - p))[:, None]).T @ design + penalty + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def _fold(row_id: str) -> int:
    return hashlib.sha256(row_id.encode()).digest()[0] % FOLDS


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, strength: float) -> np.ndarray:
    predicted = np.zeros(len(y))
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        if not test.any() or len(set(y[train])) < 2:
            continue
        w, b = fit_logistic(x[train], y[train], strength)
        predicted[test] = 1 / (1 + np.exp(-np.clip(x[test] @ w + b, -60, 60)))
    return predicted


def fit(rows: list[Row], target: float) -> dict:
    names = sorted({k for r in rows for k in r.evidence})
    raw = np.array([[r.evidence.get(k, 0.0) for k in names] for r in rows])
    means, scales = raw.mean(axis=0), raw.std(axis=0)
    scales[scales == 0] = 1.0
    x, y = (raw - means) / scales, np.array([r.right for r in rows])
    folds = np.array([_fold(f"{r.source}:{r.id}") for r in rows])

    def log_loss(p: np.ndarray) -> float:
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    losses = {s: log_loss(out_of_fold(x, y, folds, s)) for s in STRENGTHS}
    strength = min(losses, key=losses.get)
    held = out_of_fold(x, y, folds, strength)
    threshold = M.threshold_for_precision(list(zip(held.tolist(), y.tolist())), target)
    w, b = fit_logistic(x, y, strength)
    return {
        "about": (f"P(short answer right | span evidence), fitted by rag.eval.fit on {len(rows)} spans of the tuning "
                  f"halves; L2 {strength} chosen by {FOLDS}-fold cross-validation; threshold for precision {target} "
                  "from the cross-validated confidences"),
        "bias": round(b, 6), "weights": {k: round(float(v), 6) for k, v in zip(names, w)},
        "means": {k: round(float(v), 6) for k, v in zip(names, means)},
        "scales": {k: round(float(v), 6) for k, v in zip(names, scales)},
        "threshold": None if threshold is None else round(float(threshold), 4),
        "cross_validated": _summary(rows, held, threshold),
    }


def _summary(rows: list[Row], confidence: np.ndarray, threshold: float | None) -> dict[str, dict[str, float]]:
    out = {}
    for source in sorted({r.source for r in rows}):
        mine = [(r, c) for r, c in zip(rows, confidence) if r.source == source]
        shown = [r for r, c in mine if threshold is not None and c >= threshold]
        out[Path(source).parent.name or source] = {"spans": len(mine), "shown": len(shown),
                       "precision": round(sum(r.right for r in shown) / len(shown), 4) if shown else None}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.eval.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="+", type=Path, help="questions.jsonl of rag eval --split tune runs")
    parser.add_argument("--target", type=float, default=0.90, help="precision the threshold is set for")
    parser.add_argument("--features", help="comma-separated evidence names to weigh (default: all); fewer features "
                                           "need fewer rows to be fitted reliably")
    parser.add_argument("--out", type=Path, help="write the model here (default: print it)")
    args = parser.parse_args(argv)
    try:
        features = [f.strip() for f in args.features.split(",")] if args.features else []
        model = fit(read_rows(args.questions, features), args.target)
    except (DatasetError, OSError, ValueError, KeyError) as exc:
        print(f"rag.eval.fit: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(model, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}: threshold {model['threshold']} ({model['about']})")
        for source, figures in model["cross_validated"].items():
            print(f"  {source}: {figures}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
