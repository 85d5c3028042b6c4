"""``assist identity``: the encrypted identity vault — write it from the extracts, rotate its
key, make a key, show its state. ``assist ingest`` and ``assist month`` write the vault too
(:func:`write_identity`), beside the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assist.cli.common import load_settings, out, user_errors
from assist.settings import Settings

app = typer.Typer(help="The identity vault (身份信息保险库): names, addresses and phones, "
                       "encrypted, shown only to the household's own caseworkers.",
                  no_args_is_help=True)


def vault_dir(s: Settings, store: Path | None = None) -> Path:
    """The vault folder: beside the store (``<workspace>/identity`` for the default store)."""
    return s.identity_dir if store is None else Path(store).parent / "identity"


def write_identity(s: Settings, *, source: Path, store: Path | None = None,
                   encoding: str | None = None) -> str:
    """Write the vault of the latest snapshot in ``source``; one line saying what it holds."""
    from assist.ingest.identity import write_vault

    keys, index_key = s.identity_secrets()
    target = vault_dir(s, store)
    done = write_vault(source=source, out=target, pseudonym_key=s.pseudonym_key.get_secret_value(),
                       keys=keys, index_key=index_key, encoding=encoding,
                       store=s.store_dir if store is None else Path(store))
    return (f"identity vault: {done.households:,} households of {done.snapshot}, encrypted "
            f"({target})")


@app.command()
@user_errors
def build(source: Annotated[Path | None, typer.Option(help="Folder of raw extracts.")] = None,
          store: Annotated[Path | None, typer.Option(
              help="The store folder the vault sits beside (default: the workspace's).")] = None,
          ) -> None:
    """Write the vault again from the latest snapshot's households and persons extracts
    (also after changing ASSIST_IDENTITY_INDEX_KEY: the blind index is recomputed)."""
    s = load_settings()
    out.print(write_identity(s, source=source or s.source_dir, store=store))


@app.command()
@user_errors
def rotate(store: Annotated[Path | None, typer.Option(
        help="The store folder the vault sits beside (default: the workspace's).")] = None,
           ) -> None:
    """Re-encrypt every entry under the first (newest) key of ASSIST_IDENTITY_KEYS; the older
    keys, listed after it, must still be there. Afterwards remove them."""
    from assist.ingest.identity import rotate_vault

    s = load_settings()
    keys, index_key = s.identity_secrets()
    done = rotate_vault(out=vault_dir(s, store), keys=keys, index_key=index_key)
    out.print(f"identity vault: {done.households:,} households re-encrypted under the newest key")


@app.command("new-key")
@user_errors
def new_key() -> None:
    """Print a fresh Fernet key (put it FIRST in ASSIST_IDENTITY_KEYS, then rotate)."""
    from cryptography.fernet import Fernet

    out.print(Fernet.generate_key().decode("ascii"))


@app.command()
@user_errors
def status(store: Annotated[Path | None, typer.Option(
        help="The store folder the vault sits beside (default: the workspace's).")] = None,
           ) -> None:
    """The vault's snapshot, households and blind-index entries (never its content)."""
    from assist.ingest.identity import read_manifest

    s = load_settings()
    m = read_manifest(vault_dir(s, store))
    out.print(f"identity vault {m['format']}: snapshot {m['snapshot']}, {m['households']:,} "
              f"households, {m['index_entries']:,} blind-index entries")
