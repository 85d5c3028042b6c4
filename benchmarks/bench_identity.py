"""Cost of the identity vault: writing it at ingest, loading it in the API, and searching it.

A simulated district (``--households``, one month) is written; the vault is built from its
households and persons extracts as ``assist ingest`` does, then the serving identity service's
:class:`~assist.serving.services.identity.Vault` is timed: loading, an exact ID-number search
(blind index: no decryption), a name/address fragment search over one street and over two
(every entry of those streets decrypted, nothing else), and one household's reveal.

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_identity.py --households 20000 -n 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from assist.ingest.identity import write_vault
from assist.ingest.pseudonym import pseudonym
from assist.serving.services.identity import Vault, _fragment_hits
from assist.settings import DEV_IDENTITY_INDEX_KEY, DEV_IDENTITY_KEY, DEV_PSEUDONYM_KEY
from assist.simulate import simulate


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("-n", type=int, default=20, help="repetitions of each search")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        simulate(households=args.households, months=1, seed=7, end_month="2026-10",
                 out=root / "source", truth_out=root / "truth", invalid_rate=0.0)
        t = time.perf_counter()
        done = write_vault(source=root / "source", out=root / "identity",
                           pseudonym_key=DEV_PSEUDONYM_KEY, keys=[DEV_IDENTITY_KEY],
                           index_key=DEV_IDENTITY_INDEX_KEY)
        written = time.perf_counter() - t
        persons = pd.read_parquet(root / "source" / "persons" / "2026-10.parquet")
        households = pd.read_parquet(root / "source" / "households" / "2026-10.parquet")
        vault = Vault(root / "identity", keys=[DEV_IDENTITY_KEY], index_key=DEV_IDENTITY_INDEX_KEY)
        t = time.perf_counter()
        vault.street_of("h0")
        loaded = time.perf_counter() - t
        streets = households["street_code"].value_counts()
        one, two = [streets.index[0]], list(streets.index[:2])
        head = persons.loc[persons["relation"] == "head"].iloc[0]
        hid = pseudonym(str(head["household_id"]), kind="household", key=DEV_PSEUDONYM_KEY)
        size = (root / "identity").glob("*.parquet")
        print(f"{done.households:,} households, {done.index_entries:,} blind-index entries, "
              f"{sum(p.stat().st_size for p in size) / 2**20:.1f} MiB on disk")
        print(f"write vault (read extracts, encrypt, index)  {written:8.2f} s")
        print(f"load vault in the API (first request)        {loaded * 1000:8.1f} ms")
        print(f"ID-number search (blind index)               "
              f"{_median_ms(lambda: vault.find_id_number(head['id_number']), args.n):8.2f} ms")
        print(f"reveal one household (decrypt one entry)     "
              f"{_median_ms(lambda: vault.identity(hid), args.n):8.2f} ms")
        for label, picked in (("1 street", one), ("2 streets", two)):
            n = int(streets[picked].sum())
            ms = _median_ms(lambda p=picked: _fragment_hits(vault, p, "梅林路"), args.n)
            print(f"fragment search, {label:<9} ({n:>6,} households) {ms:8.1f} ms  "
                  f"({ms * 1000 / n:.1f} µs per household)")


if __name__ == "__main__":
    main()
