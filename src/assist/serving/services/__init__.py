"""Keyword-only service functions behind the thin routes and the CLI."""
