"""Read a corpus file (JSONL or CSV) as items and cut it into batches, as Distributed Map's ItemBatcher does.

JSONL lines are handed over raw, so the worker reports invalid JSON or UTF-8 per item; undecodable bytes
survive as lone surrogates (surrogateescape) and are refused there. Blank lines are not items. The cut is a
pure function of the file, so a re-run makes the same batches, hence the same shard keys: that is what makes
`make bulk` resumable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Step Functions' ItemBatcher caps a batch at 256 KiB of input; the same default here
MAX_BATCH_BYTES = 256 * 1024


def corpus_format(path: str | Path, fmt: str | None = None) -> str:
    """'jsonl' or 'csv', from the option or the file name."""
    if fmt:
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"format must be jsonl or csv; got {fmt!r}")
        return fmt
    name = str(path).lower()
    return "csv" if name.endswith(".csv") else "jsonl"


def read_items(path: str | Path, fmt: str) -> Iterator[Any]:
    """Items one by one: raw JSONL lines (str) or CSV rows (dict keyed by the header)."""
    with open(path, "rb") as raw:
        # utf-8-sig: a byte-order mark (Windows tools write one) would make the first line invalid JSON, or
        # rename a CSV's first column
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        if fmt == "csv":
            yield from csv.DictReader(text)
            return
        for line in text:
            if line.strip():
                yield line.rstrip("\r\n")


def count_items(path: str | Path, fmt: str) -> int:
    """For the progress bar's ETA: one quick pass."""
    return sum(1 for _ in read_items(path, fmt))


def _size(item: Any) -> int:
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogateescape"))
    return sum(len(str(k)) + len(str(v)) for k, v in item.items()) if isinstance(item, dict) else 0


def batches(items: Iterator[Any], max_items: int, max_bytes: int = MAX_BATCH_BYTES) -> Iterator[list[Any]]:
    """Consecutive batches of at most ``max_items`` items and about ``max_bytes`` (one item always fits)."""
    batch: list[Any] = []
    size = 0
    for item in items:
        item_size = _size(item)
        if batch and (len(batch) >= max_items or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch
