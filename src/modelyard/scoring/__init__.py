"""Batch scoring: a registered model over Parquet or CSV files on disk or S3, in parts.

Plain Python (no Django): the CLI resolves the model and registers the output through the
REST API, so scoring runs wherever the data is.
"""
