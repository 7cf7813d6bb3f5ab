"""Keeping an index in step with documents: the indexer, uploads and Ray ingestion."""
