"""The claims benchmark: on sentences about the seed article, verification drops the padded ones
and keeps the faithful ones, on the held-out half as on the tuning half."""

from __future__ import annotations

from bench import claims


def test_verification_drops_padded_sentences_and_keeps_faithful_ones_on_both_halves():
    rows = claims.load_set()
    assert {r["kind"] for r in rows} == {"faithful", "padded"} and len(rows) >= 60
    figures = claims.report(claims.run(rows))
    for half in ("tuning", "held-out"):
        assert figures[half]["recall"] >= 0.9, figures
        assert figures[half]["faithful_kept"] >= 0.95, figures
    assert not any("hunter2" in s for s in figures["kept_padded"])
