"""Corpus reading and batching: deterministic cuts (resume depends on it), raw lines, CSV rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_encoders.bulk.checks import CorpusError, check_corpus
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


def test_a_byte_order_mark_is_not_part_of_the_first_item(tmp_path: Path) -> None:
    """Windows tools write one: it made the first JSONL line invalid JSON, and renamed a CSV's first column."""
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n')
    assert [check_item(i, raw) for i, raw in enumerate(read_items(jsonl, "jsonl"))] == [
        Item(0, "1", "a"),
        Item(1, "2", "b"),
    ]
    csv_file = tmp_path / "c.csv"
    csv_file.write_bytes(b"\xef\xbb\xbfid,text\n1,a\n")
    assert list(read_items(csv_file, "csv")) == [{"id": "1", "text": "a"}]
    check_corpus(csv_file, "csv")  # the header names both columns


def test_a_json_array_is_refused_as_jsonl_with_how_to_convert(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[\n  {"id": 1, "text": "a"}\n]\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"a JSON array, not JSONL .* jq -c"):
        check_corpus(path, "jsonl")
