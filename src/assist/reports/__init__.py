"""Reports for managers: coverage, drift, cases and overrides, fairness audit; one renderer."""
