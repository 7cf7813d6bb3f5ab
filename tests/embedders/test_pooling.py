"""Span vectors are the normalised means of the tokens inside each span."""

from __future__ import annotations

import numpy as np

from rag.embedders.pooling import pool_spans


def _one_by_one(tokens, offsets, spans):
    out = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (a, b) in enumerate(spans):
        inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] < b) & (offsets[:, 1] > a)
        if inside.any():
            v = tokens[inside].mean(axis=0)
            out[i] = v / np.linalg.norm(v)
    return out


def test_each_span_is_the_normalised_mean_of_the_tokens_it_touches():
    rng = np.random.default_rng(7)
    tokens = rng.standard_normal((12, 6)).astype(np.float32)
    offsets = np.array([[0, 0]] + [[i * 5, i * 5 + 4] for i in range(10)] + [[0, 0]])  # [CLS] ... [SEP]
    spans = [(0, 9), (5, 30), (12, 13), (100, 120), (0, 0), (48, 60)]
    got = pool_spans(tokens, offsets, spans)
    assert np.allclose(got, _one_by_one(tokens, offsets, spans), atol=1e-6)
    assert not got[3].any() and not got[4].any()  # no token inside: a zero row, never the special tokens
    assert np.allclose(np.linalg.norm(got[[0, 1, 2, 5]], axis=1), 1.0, atol=1e-6)


def test_no_spans_or_no_tokens_give_empty_or_zero_rows():
    tokens = np.ones((3, 4), dtype=np.float32)
    offsets = np.array([[0, 0], [0, 3], [0, 0]])
    assert pool_spans(tokens, offsets, []).shape == (0, 4)
    assert not pool_spans(np.zeros((0, 4), np.float32), np.zeros((0, 2), np.int64), [(0, 3)]).any()
