"""Pipeline stages (simulate, ingest, features, index, ...) as functions, and the `assist` CLI."""
