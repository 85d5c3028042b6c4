"""Storage: atomic writes, the validated store, the scoring snapshot (one reader, one writer)."""
