"""The ``assist`` command line (the composition root: it imports every other package)."""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``assist`` script."""
    from assist.pipelines.spark import pandas3_warning_filtered

    # with the spark extra installed, pandera imports pyspark.pandas, which warns that it does
    # not fully support pandas 3: a known upstream limitation; only that named warning is let
    # through, and from the first import on (the commands' modules import pandera)
    with pandas3_warning_filtered():
        from assist.cli.app import app

        app()
