"""Evaluation: question sets, metrics, the evaluation run and its reports."""
