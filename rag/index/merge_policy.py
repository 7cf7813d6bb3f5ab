"""Which segments to merge next: a tiered policy, like Lucene's, over segments kept in order.

Segment sizes fall into tiers that grow by `MERGE_FACTOR` (1k-4k chunks, 4k-16k, ...). When the
newest `MERGE_FACTOR` segments share a tier they become one segment of the next tier, so a
stream of small updates costs O(log n) rewrites per chunk and the segment count stays about
(MERGE_FACTOR - 1) per tier. A segment whose deleted rows reach `MAX_DELETED` is rewritten
without them, and more than `MAX_SEGMENTS` segments are cut back by merging the smallest
neighbours. Only neighbours are merged, so the order of live chunks, and with it every search
result, is the same before and after a merge.
"""

from __future__ import annotations

from collections.abc import Sequence

MERGE_FACTOR = 4
FLOOR = 1_000  # chunks: smaller segments all share the first tier
MAX_SEGMENTS = 10
MAX_DELETED = 0.3


def tier(n_live: int) -> int:
    t, bound = 0, FLOOR * MERGE_FACTOR
    while n_live >= bound:
        t, bound = t + 1, bound * MERGE_FACTOR
    return t


def next_merge(live: Sequence[int], total: Sequence[int]) -> tuple[int, int] | None:
    """The run [start, end) of segments to merge next (live and total rows of each), or None."""
    for i, (n, t) in enumerate(zip(live, total)):
        if t and (t - n) / t >= MAX_DELETED:
            return i, i + 1
    if len(live) >= MERGE_FACTOR:
        tail = [tier(n) for n in live[-MERGE_FACTOR:]]
        if min(tail) == max(tail):
            return len(live) - MERGE_FACTOR, len(live)
    if len(live) > MAX_SEGMENTS:
        width = len(live) - MAX_SEGMENTS + 1
        sums = [sum(live[i:i + width]) for i in range(len(live) - width + 1)]
        start = min(range(len(sums)), key=lambda i: (sums[i], -i))
        return start, start + width
    return None
