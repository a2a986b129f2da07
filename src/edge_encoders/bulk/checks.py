"""Checks `make bulk` runs before starting its pool: mistakes that would otherwise fail every batch, or succeed
with nothing embedded, are one line up front.

Without them an output path that is a file failed each batch with "run again to resume" (a re-run cannot
help), an empty corpus finished as "done", and a CSV whose header lacks the text column "embedded" every row
as a bad item.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from edge_encoders.bulk.reader import read_items
from edge_encoders.bulk.store import StoreError, open_store
from edge_encoders.errors import InputError


class CorpusError(InputError):
    """The corpus as a whole cannot be embedded (empty, or a CSV without the named columns)."""

    code = "bad_corpus"


def check_output(location: str) -> None:
    """The output can hold shards: s3:// is checked by the first write; a folder is created now if missing."""
    open_store(location)  # refuses other schemes
    if location.startswith("s3://"):
        return
    folder = Path(location)
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"output {location} is a file; give a folder (created if missing) or s3://bucket/prefix")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the output folder {location}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"the output folder {location} is not writable")


def check_corpus(path: str | Path, fmt: str, *, id_field: str = "id", text_field: str = "text") -> None:
    """The corpus has at least one item, and a CSV's header names the id and text columns."""
    if fmt == "csv":
        with open(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            header = next(csv.reader(text), None)
        if not header:
            raise CorpusError(f"{path} is empty: a CSV corpus needs a header row ({id_field},{text_field}) and rows")
        missing = [name for name in (id_field, text_field) if name not in header]
        if missing:
            shown = ", ".join(repr(column) for column in header[:20])
            raise CorpusError(
                f"{path} has no column {' or '.join(repr(m) for m in missing)} (its columns: {shown}); "
                f"name the columns to read with --id-field and --text-field"
            )
    first = next(read_items(path, fmt), None)
    if first is None:
        raise CorpusError(f"{path} has no items (it is empty or holds only blank lines or a header): nothing to embed")
    if fmt == "jsonl" and isinstance(first, str) and first.lstrip().startswith("["):
        raise CorpusError(
            f"{path} starts with '[': a JSON array, not JSONL (one object per line); convert it, e.g. "
            f"jq -c '.[]' {path} > corpus.jsonl"
        )
