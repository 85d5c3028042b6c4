"""The ``assist`` command line (the composition root: it imports every other package)."""
