"""Corpus reading and batching: deterministic cuts (resume depends on it), raw lines, CSV rows."""

from __future__ import annotations

from pathlib import Path

from edge_encoders.bulk.items import Item, check_item
from edge_encoders.bulk.reader import batches, corpus_format, count_items, read_items


def test_jsonl_lines_raw_blank_lines_skipped_bad_bytes_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a"}\n\n   \n{"id": 2, "text": "b\xff"}\r\n{broken\n')
    items = list(read_items(path, "jsonl"))
    assert len(items) == 3 and count_items(path, "jsonl") == 3
    assert check_item(0, items[0]) == Item(0, "1", "a")
    assert check_item(1, items[1]).code == "invalid_unicode"  # type: ignore[union-attr]
    assert check_item(2, items[2]).code == "invalid_json"  # type: ignore[union-attr]


def test_csv_rows_keyed_by_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('id,text\n1,"hello, world"\n2,"two\nlines"\n', encoding="utf-8")
    assert corpus_format(path) == "csv"
    items = list(read_items(path, "csv"))
    assert items == [{"id": "1", "text": "hello, world"}, {"id": "2", "text": "two\nlines"}]


def test_batches_cut_by_count_and_bytes_deterministically() -> None:
    items = [f"line {i}" for i in range(10)]
    assert [len(b) for b in batches(iter(items), 4)] == [4, 4, 2]
    big = ["x" * 100] * 5
    assert [len(b) for b in batches(iter(big), 100, max_bytes=250)] == [2, 2, 1]
    assert [len(b) for b in batches(iter(["y" * 1000]), 10, max_bytes=10)] == [1]  # one item always fits
    assert list(batches(iter(items), 3)) == list(batches(iter(items), 3))
