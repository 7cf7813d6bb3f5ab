"""Metric functions against examples computed by hand."""

from __future__ import annotations

import math

import pytest

from rag.eval import metrics as M


def test_recall_counts_a_question_as_found_when_any_relevant_hit_is_in_the_top_k():
    gains = [0, 0, 1, 0, 1]
    assert [M.recall_at_k(gains, k) for k in (1, 2, 3, 5)] == [0, 0, 1, 1]


def test_reciprocal_rank_is_one_over_the_first_relevant_rank():
    assert M.reciprocal_rank([0, 0, 1, 1], 10) == pytest.approx(1 / 3)
    assert M.reciprocal_rank([0] * 12 + [1], 10) == 0.0


def test_ndcg_by_hand():
    # relevant at ranks 1 and 3 of 2 relevant units: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert M.ndcg_at_k([1, 0, 1], n_relevant=2, k=10) == pytest.approx(expected)
    assert M.ndcg_at_k([1, 1], n_relevant=2) == pytest.approx(1.0)


def test_overlapping_hits_repeating_the_same_evidence_earn_no_extra_gain():
    assert M.unit_gains([{"ev:0"}, {"ev:0"}, set(), {"ev:0", "ev:1"}]) == [1, 0, 0, 1]
    assert M.ndcg_at_k(M.unit_gains([{"ev:0"}, {"ev:0"}]), n_relevant=1) == pytest.approx(1.0)


def test_tied_scores_keep_their_rank_order():
    # Two hits with equal scores: the metric follows the ranking it is given, deterministically.
    assert M.reciprocal_rank([0, 1]) == 0.5
    assert M.reciprocal_rank([1, 0]) == 1.0


def test_empty_results_score_zero_and_empty_sets_have_no_mean():
    assert M.recall_at_k([], 5) == 0.0
    assert M.reciprocal_rank([]) == 0.0
    assert M.ndcg_at_k([], n_relevant=0) == 0.0
    assert M.mean([]) is None  # "no answerable questions" is not a score of zero
    assert M.percentile([], 95) is None


def test_answer_normalisation_ignores_case_punctuation_articles_and_markers():
    assert M.normalize_answer("The  Late 1990s! [1]") == "late 1990s"
    assert M.exact_match("the late 1990s.", ["late 1990s"]) == 1.0
    assert M.answer_contained("It was formed in the late 1990s [1].", ["late 1990s"]) == 1.0
    assert M.answer_contained("It was formed in 1990", ["1990s"]) == 0.0  # whole words only
    assert M.exact_match("anything", []) == 0.0


def test_token_f1_by_hand():
    # prediction: "formed in late 1990s" (4 tokens), gold "late 1990s" (2): P=2/4, R=1 -> F1=2/3
    assert M.token_f1("formed in late 1990s", ["late 1990s"]) == pytest.approx(2 / 3)
    assert M.token_f1("", ["late 1990s"]) == 0.0
    assert M.token_f1("x", ["nothing shared", "x"]) == 1.0


def test_best_threshold_maximises_balanced_accuracy():
    t, bal = M.best_threshold([0.9, 0.8, 0.7], [0.2, 0.3, 0.75])
    assert 0.3 < t <= 0.7 and bal == pytest.approx((1 + 2 / 3) / 2)
    # Unbounded, declining everything under 0.775 wins, at half the answerable questions refused;
    # bounded, only thresholds that refuse none of them remain.
    answerable, unanswerable = [0.9, 0.8, 0.7, 0.6], [0.2, 0.65, 0.75]
    assert M.best_threshold(answerable, unanswerable) == pytest.approx((0.775, 0.75))
    assert M.best_threshold(answerable, unanswerable, max_false_refusal=0.1) == pytest.approx((0.4, (1 + 1 / 3) / 2))
    t, bal = M.best_threshold([0.9], [0.1])
    assert 0.1 < t < 0.9 and bal == 1.0
    assert math.isnan(M.best_threshold([], [0.1])[0])
