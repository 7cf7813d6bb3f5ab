"""Sentence vectors from one forward pass: a passage's token vectors pooled over each sentence's
characters, so sentences need no second pass through the model."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """Mean of the token vectors whose characters fall inside each span, normalised. `offsets`:
    each token's (start, end) in the text; special tokens have (0, 0) and never count."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    spans = list(spans)
    out = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (a, b) in enumerate(spans):
        inside = real & (starts < b) & (ends > a)
        if inside.any():
            v = tokens[inside].mean(axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out
