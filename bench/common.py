"""What every benchmark shares: result tables, percentiles, the machine's description and the JSON
report. Benchmark modules import from here, never from each other's entry points."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]]

    def render(self) -> str:
        cells = [[_fmt(v) for v in row] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(self.columns)]
        line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths)))
        return "\n".join([self.title, line(self.columns), line(["-" * w for w in widths]), *map(line, cells)])

    details: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        out: dict = {"title": self.title, "rows": [dict(zip(self.columns, r)) for r in self.rows]}
        if self.details:
            out["details"] = self.details
        return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


def write_json(path: Path, data: object) -> None:
    """`data` as indented JSON, numpy scalars and arrays written as plain numbers and lists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
