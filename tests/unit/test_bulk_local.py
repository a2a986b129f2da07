"""`make bulk` end to end on the shipped bundle: generated corpus, shard count, vector spot-check, kill + resume.

Uses the toy embed bundle built in the test run (no export needed): the process pool, the CLI, resumption and
the Makefile target are what is under test here, not the model.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.handler_support import REPO
from helpers.toy_handler import bundle_paths

from edge_encoders import Embedder, SessionConfig

duckdb = pytest.importorskip("duckdb")

VOCABULARY = (
    "the quick brown fox jumps over a lazy dog while onnx runtime embeds short and long sentences on small "
    "cpus with int8 weights Grüße aus Köln naïve café"
)
WORDS = re.findall(r"\S+", VOCABULARY)


def _corpus(path: Path, count: int, *, bad: bool = False, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    texts: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.choice([3, 8, 15, 30])))
            texts[f"doc-{i}"] = text
            handle.write(json.dumps({"id": f"doc-{i}", "text": text}, ensure_ascii=False) + "\n")
            if bad and i % 500 == 7:
                handle.write('{"id": "broken", "text": \n')
    return texts


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_make_bulk_on_generated_corpus(tmp_path: Path) -> None:
    embed_bundle = bundle_paths()[0]
    corpus = tmp_path / "corpus.jsonl"
    texts = _corpus(corpus, 2500, bad=True)
    out = tmp_path / "out"
    cmd = ["make", "-s", "bulk", f"IN={corpus}", f"OUT={out}", f"BULK_BUNDLE={embed_bundle}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "items/s" in proc.stderr and "ETA" in proc.stderr  # the progress line

    lines = _lines(out)
    items = 2500 + 5  # five broken lines, one every 500
    assert len(lines) == -(-items // 256)  # one shard per batch of 256 items
    assert len(list((out / "shards").glob("*.parquet"))) == len(lines)
    assert sum(line["failed"] for line in lines) == 5
    assert {e["code"] for line in lines for e in line["errors"]} == {"invalid_json"}
    ids = [i for line in lines for i in line["ids"]]
    assert len(ids) == len(set(ids)) == 2500 and set(ids) == set(texts)

    rows = duckdb.sql(f"SELECT count(*), count(DISTINCT id) FROM '{out}/shards/*.parquet'").fetchall()
    assert rows == [(2500, 2500)]
    # spot-check: a shard's vectors are what Embedder.embed gives for the same texts in the same call
    line = lines[3]
    shard = duckdb.sql(f"SELECT id, embedding FROM '{out / line['shard']}'").fetchall()
    assert [r[0] for r in shard] == line["ids"]
    embedder = Embedder.from_bundle(embed_bundle, session_config=SessionConfig(intra_op_threads=1))
    expected = embedder.embed([texts[i] for i in line["ids"]])
    got = np.array([r[1] for r in shard], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert line["model"] == embedder.manifest.name and line["dimensions"] == embedder.dimension

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0 and f"0 shards written, {len(lines)} already complete" in again.stdout


def test_killed_run_resumes_without_gaps_or_duplicates(tmp_path: Path) -> None:
    embed_bundle = bundle_paths()[0]
    corpus = tmp_path / "corpus.jsonl"
    texts = _corpus(corpus, 1200, seed=1)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "edge_encoders.bulk", str(corpus), str(out), "--bundle", str(embed_bundle)]
    args += ["--batch-size", "16", "--workers", "2"]
    batches = -(-1200 // 16)
    proc = subprocess.Popen(
        args, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while len(list(out.glob("shards/*.manifest.json"))) < 5:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its pool, mid-run
        proc.wait(timeout=60)
    done_before = len(list(out.glob("shards/*.manifest.json")))
    assert 5 <= done_before < batches and not (out / "manifest.jsonl").exists()

    resumed = subprocess.run(args, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done_before} already complete" in resumed.stdout
    lines = _lines(out)
    assert len(lines) == batches == len(list(out.glob("shards/*.manifest.json")))
    ids = [i for line in lines for i in line["ids"]]
    assert ids == [f"doc-{i}" for i in range(1200)] and set(ids) == set(texts)  # corpus order, no gap, no dup
    rows = duckdb.sql(f"SELECT count(*), count(DISTINCT id) FROM '{out}/shards/*.parquet'").fetchall()
    assert rows == [(1200, 1200)]


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing corpus", "is not a file"),
        ("folder without a bundle", "manifest.json is missing"),
        ("output neither a folder nor S3", "s3://bucket/prefix"),
        ("output is a file", "is a file"),
        ("reranker bundle", "'rerank' bundle"),
        ("empty corpus", "has no items"),
        ("csv without the text column", "no column 'text' (its columns: 'id', 'b')"),
        ("dimensions past the model's", "--dimensions must be between 1 and"),
        ("unknown prompt name", "--prompt-name 'nope' is not a prompt of this bundle"),
    ],
)
def test_cli_refuses_bad_arguments_in_one_line(tmp_path: Path, case: str, needle: str) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": 1, "text": "a"}\n')
    embed = str(bundle_paths()[0])
    argv = {
        "missing corpus": [str(tmp_path / "missing.jsonl"), str(tmp_path / "o")],
        "folder without a bundle": [str(corpus), str(tmp_path / "o"), "--bundle", str(tmp_path)],
        "output neither a folder nor S3": [str(corpus), "ftp://x/y", "--bundle", str(bundle_paths()[0])],
        "output is a file": [str(corpus), str(corpus), "--bundle", str(bundle_paths()[0])],
        "reranker bundle": [str(corpus), str(tmp_path / "o"), "--bundle", str(bundle_paths()[1])],
        "empty corpus": [str(_write(tmp_path / "e.jsonl", "\n  \n")), str(tmp_path / "o"), "--bundle", embed],
        "dimensions past the model's": [str(corpus), str(tmp_path / "o"), "--bundle", embed, "--dimensions", "99999"],
        "unknown prompt name": [str(corpus), str(tmp_path / "o"), "--bundle", embed, "--prompt-name", "nope"],
        "csv without the text column": [
            str(_write(tmp_path / "c.csv", "id,b\n1,a\n")),
            str(tmp_path / "o"),
            "--bundle",
            embed,
        ],
    }[case]
    proc = subprocess.run(
        [sys.executable, "-m", "edge_encoders.bulk", *argv],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "o" / "shards").exists()  # refused before any batch ran


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _bulk(*argv: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "edge_encoders.bulk", *argv, "--bundle", str(bundle_paths()[0])]
    return subprocess.run(args, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300, check=False)


def test_bad_items_are_counted_by_reason_and_ids_repeated_across_batches_named(tmp_path: Path) -> None:
    """A batch only sees its own ids: an id in two batches gets two vectors, so the run says so at the end,
    with the bad items by reason (over the whole corpus, resumed batches included)."""
    lines = ['{"id": 1, "text": "a"}', '{"id": 2, "text": "b"}', '{"id": 1, "text": "c"}', '{"id": 4, "text": 5}']
    corpus = _write(tmp_path / "c.jsonl", "\n".join(lines) + "\n{broken\n")
    out = tmp_path / "out"
    first = _bulk(str(corpus), str(out), "--batch-size", "2")
    assert first.returncode == 0, first.stderr
    assert "bad items by reason: invalid_text 1, invalid_json 1" in first.stderr
    assert "1 id(s) appear in more than one batch ('1')" in first.stderr
    assert "already holds" not in first.stderr

    again = _bulk(str(corpus), str(out), "--batch-size", "2")  # nothing redone, the same report
    assert again.returncode == 0 and "0 shards written, 3 already complete, 2 bad items" in again.stdout
    assert f"{out} already holds 3 finished batch(es)" in again.stderr and "skipped" in again.stderr
    assert "invalid_text 1, invalid_json 1" in again.stderr and "('1')" in again.stderr


def test_a_corpus_with_no_good_item_fails(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "c.jsonl", '{"id": 1}\n{"id": 2, "body": "x"}\n')
    proc = _bulk(str(corpus), str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "missing_text 2" in proc.stderr and "no item was embedded: all 2 were refused" in proc.stderr


def test_no_more_processes_than_batches() -> None:
    """Each process loads the model, and a fork pool starts them all: --workers 64 for 3 items starts one."""
    from edge_encoders.bulk.local import pool_size

    assert pool_size(64, 3, 256) == 1
    assert pool_size(4, 1000, 256) == 4 and pool_size(8, 513, 256) == 3
    assert pool_size(2, 0, 256) == 1
