"""Experiment configs and MLflow tracking / registry helpers (used by pipelines only)."""
