"""Render and write evaluation reports: terminal table, report.json, report.md, a plot, per-question rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.core.errors import ConfigError, DatasetError
from rag.safety.redact import redact, redact_data

SUMMARY_KEYS = [
    "retrieval.recall@1", "retrieval.recall@3", "retrieval.recall@5", "retrieval.recall@10", "retrieval.mrr@10",
    "retrieval.ndcg@10", "answer.em", "answer.f1", "answer.contains", "answer.short_rate", "short.precision",
    "short.coverage", "short.on_unanswerable", "quote.on_unanswerable", "answer.misleading", "tier.short",
    "tier.quote", "tier.none", "citation.precision",
    "citation.valid_share", "abstention.accuracy", "abstention.false_refusal", "latency.embed_ms.p50",
    "latency.search_ms.p50", "latency.generate_ms.p50", "latency.total_ms.p50", "latency.total_ms.p95",
]


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if key.startswith("latency.") else f"{value:.3f}"


def table_rows(report: dict[str, Any], previous: dict[str, Any] | None = None) -> tuple[list[str], list[list[str]]]:
    method = report["method"]
    columns = ["metric", f"{method} (default)"] + [f"{m} only" for m in report["baselines"]]
    if previous:
        columns.append("change vs previous")
    rows = []
    for key in SUMMARY_KEYS:
        row = [key, _fmt(report["metrics"].get(key), key)]
        row += [_fmt(b.get(key), key) for b in report["baselines"].values()]
        if previous:
            old, new = previous.get("metrics", {}).get(key), report["metrics"].get(key)
            row.append("n/a" if old is None or new is None else f"{new - old:+.3f}" if not key.startswith("latency.")
                       else f"{new - old:+.1f}")
        rows.append(row)
    return columns, rows


def render_table(report: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    columns, rows = table_rows(report, previous)
    widths = [max(len(r[i]) for r in rows + [columns]) for i in range(len(columns))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    s = report["settings"]
    head = (f"{report['dataset']}: {report['questions']} questions ({report['answerable']} answerable, "
            f"{report['unanswerable']} unanswerable); generator={s['generator']} k={s['k']} "
            f"relevance={relevance_of(report)} split={report.get('split', 'all')}")
    lines = [head, fmt(columns), fmt(["-" * w for w in widths]), *map(fmt, rows)]
    note = relevance_note(report, previous)
    if note:
        lines.append(note)
    cal = report.get("calibration")
    if cal:
        lines.append(f"abstention threshold {cal['threshold']}; best on this set {cal['best_threshold']} "
                     f"(balanced accuracy {cal['best_balanced_accuracy']}); best with false refusals <= "
                     f"{cal.get('max_false_refusal')}: {cal.get('best_bounded_threshold')} "
                     f"({cal.get('best_bounded_balanced_accuracy')})")
        if cal.get("short_precision_target") is not None:
            lines.append(f"short-answer threshold {s.get('short_answer_threshold')}; lowest reaching precision "
                         f"{cal['short_precision_target']} on this set: {cal.get('short_threshold_for_target')} "
                         f"(coverage {cal.get('short_coverage_at_target')})")
    return "\n".join(lines)


def relevance_of(report: dict[str, Any]) -> str:
    """The field relevance was judged by; reports written before the choice existed used doc_ids."""
    return str(report.get("relevance") or report.get("settings", {}).get("relevance") or "doc_ids")


def relevance_note(report: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    if previous is None or relevance_of(previous) == relevance_of(report):
        return None
    return (f"note: the earlier report judged relevance by {relevance_of(previous)}, this one by "
            f"{relevance_of(report)}: retrieval changes compare different things")


def render_markdown(report: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    columns, rows = table_rows(report, previous)
    md = [f"# Evaluation: {report['dataset']}", "",
          f"{report['questions']} questions ({report['answerable']} answerable, {report['unanswerable']} "
          f"unanswerable) from `{report['dataset_path']}`, run {report['created']}; a passage is relevant when "
          f"its document is in the question's `{relevance_of(report)}` or it holds an `evidence` string.",
          "",
          "Settings: " + ", ".join(f"{k}={v}" for k, v in report["settings"].items()), "",
          "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    note = relevance_note(report, previous)
    if note:
        md += ["", note[0].upper() + note[1:] + "."]
    cal = report.get("calibration")
    if cal:
        md += ["", f"Abstention threshold {cal['threshold']}; the threshold maximising balanced accuracy on this "
                   f"set is {cal['best_threshold']} ({cal['best_balanced_accuracy']}); with false refusals at most "
                   f"{cal.get('max_false_refusal')} it is {cal.get('best_bounded_threshold')} "
                   f"({cal.get('best_bounded_balanced_accuracy')})."]
    md += ["", "![recall@k](recall_at_k.png)", ""]
    return "\n".join(md)


def plot_recall(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ks = [1, 3, 5, 10]
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    series = {f"{report['method']} (default)": report["metrics"], **{f"{m} only": v for m, v in report["baselines"].items()}}
    for label, values in series.items():
        ys = [values.get(f"retrieval.recall@{k}") or 0.0 for k in ks]
        ax.plot(ks, ys, marker="o", label=label)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Retrieval on {report['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_report(report: dict[str, Any], out: Path, previous: dict[str, Any] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    # Answers quote endpoints, and endpoints may repeat the API key: masked before writing.
    results = redact_data(report.pop("_results", {}))
    report = redact_data(report)
    files = [out / "report.json", out / "report.md", out / "questions.jsonl"]
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(redact(render_markdown(report, previous)), encoding="utf-8")
    with open(out / "questions.jsonl", "w", encoding="utf-8") as fh:
        for rows in results.values():
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    if plot_recall(report, out / "recall_at_k.png"):
        files.append(out / "recall_at_k.png")
    return files


def load_previous(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read the report to compare with ({path}): {exc}") from None
    if "metrics" not in data:
        raise DatasetError(f"{path} is not a report written by `rag eval`")
    return data


def parse_bars(specs: Sequence[str]) -> dict[str, float]:
    bars = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            bars[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"bar {spec!r} should look like METRIC=VALUE, e.g. retrieval.recall@5=0.9") from None
        if not sep:
            raise ConfigError(f"bar {spec!r} should look like METRIC=VALUE")
    return bars


def check_best(metrics: dict[str, float | None], baselines: dict[str, dict[str, float | None]],
               names: list[str]) -> list[str]:
    """Failures where the configured method does not strictly beat every baseline."""
    failures = []
    for name in names:
        if name not in metrics:
            raise ConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(metrics))}")
        value = metrics[name]
        for method, other in baselines.items():
            if value is None or other.get(name) is None or value <= other[name]:  # type: ignore[operator]
                failures.append(f"{name} = {_fmt(value, name)} does not beat {method} ({_fmt(other.get(name), name)})")
    return failures


def check_bars(metrics: dict[str, float | None], under: dict[str, float], over: dict[str, float]) -> list[str]:
    failures = []
    for name in {**under, **over}:
        if name not in metrics:
            raise ConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(metrics))}")
    for name, bar in under.items():
        value = metrics[name]
        if value is None or value < bar:
            failures.append(f"{name} = {_fmt(value, name)} is below the bar {bar}")
    for name, bar in over.items():
        value = metrics[name]
        if value is None or value > bar:
            failures.append(f"{name} = {_fmt(value, name)} is above the bar {bar}")
    return failures
