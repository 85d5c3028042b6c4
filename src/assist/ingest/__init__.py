"""Validated ingest of department extracts: coercion, declared rules, quarantine, pseudonyms."""
