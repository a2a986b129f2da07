"""`make bulk`: the Lambda bulk worker on one machine, over a process pool, with progress and resume.

Each process loads the bundle once and runs single-threaded onnxruntime, so N processes use N cores with
tokenization in parallel too. Batches whose manifest line already exists are skipped without being sent,
so a re-run after a kill only does what is missing. At the end ``manifest.jsonl`` lists every batch of the
corpus in file order.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from edge_encoders.bulk.reader import batches, count_items, read_items
from edge_encoders.bulk.store import Store, open_store
from edge_encoders.bulk.worker import BulkOptions, batch_digest, bundle_sha256, process_batch, read_line, shard_keys
from edge_encoders.embedder import Embedder
from edge_encoders.manifest import read_manifest, verify_files
from edge_encoders.session import SessionConfig

MANIFEST_FILE = "manifest.jsonl"


@dataclass
class RunStats:
    """What a run did, for the progress line and the final report."""

    total: int = 0
    done: int = 0
    written: int = 0
    skipped: int = 0
    bad: int = 0
    failed_batches: list[str] = field(default_factory=list)
    # from every batch's manifest line at the end (resumed batches included)
    bad_codes: Counter[str] = field(default_factory=Counter)
    repeated_ids: list[str] = field(default_factory=list)  # ids found in more than one batch
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "?" if left == float("inf") else f"{int(left // 60)}:{int(left % 60):02d}"
        pct = 100 * self.done / self.total if self.total else 100.0
        return (
            f"bulk: {self.done:,}/{self.total:,} items ({pct:.0f}%)  {rate:,.0f} items/s  ETA {eta}  "
            f"shards {self.written} written, {self.skipped} skipped  bad items {self.bad}"
        )


class Progress:
    """One status line on stderr: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, stats: RunStats, stream: TextIO = sys.stderr) -> None:
        self.stats = stats
        self.stream = stream
        self.tty = stream.isatty()
        self.every = 0.5 if self.tty else 5.0
        self.last = time.monotonic()  # a log gets its first line after `every`, not one per batch at the start

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        end = "\r" if self.tty and not force else "\n"
        self.stream.write(self.stats.line() + end)
        self.stream.flush()


# one Embedder and Store per worker process, made by the pool initializer
_worker: dict[str, Any] = {}


def _init_worker(bundle: str, output: str, threads: int) -> None:
    _worker["embedder"] = Embedder.from_bundle(bundle, session_config=SessionConfig(intra_op_threads=threads))
    _worker["store"] = open_store(output)


def _run_batch(items: list[Any], options: BulkOptions, bundle_hash: str) -> dict[str, Any]:
    return process_batch(_worker["embedder"], items, options, _worker["store"], bundle=bundle_hash)


def run(
    corpus: str | Path,
    options: BulkOptions,
    bundle: str | Path,
    *,
    fmt: str,
    batch_size: int = 256,
    workers: int = 1,
    threads: int = 1,
    stream: TextIO = sys.stderr,
) -> RunStats:
    """Embed every item of ``corpus`` into shards under ``options.output``; returns what was done."""
    manifest = read_manifest(bundle)
    verify_files(bundle, manifest)  # here, so a damaged bundle is one clear error, not a broken pool
    bundle_hash = bundle_sha256(manifest)
    store: Store = open_store(options.output)
    existing = store.keys("shards/")
    stats = RunStats(total=count_items(corpus, fmt))
    progress = Progress(stats, stream)
    already = sum(1 for key in existing if key.endswith(".manifest.json"))
    if already:
        stream.write(
            f"bulk: {store.root} already holds {already} finished batch(es): this corpus's are skipped, not redone "
            f"(resume); nothing there is deleted, and {MANIFEST_FILE} will list this corpus's batches only\n"
        )
    order: list[str] = []
    pending: dict[Future[dict[str, Any]], int] = {}

    def collect(done_futures: set[Future[dict[str, Any]]]) -> None:
        for future in done_futures:
            size = pending.pop(future)
            stats.done += size
            try:
                line = future.result()
            except Exception as exc:
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                stats.failed_batches.append(message)
                continue
            stats.bad += line["failed"]
            if line.get("skipped"):
                stats.skipped += 1
            else:
                stats.written += 1
        progress.update()

    workers = pool_size(workers, stats.total, batch_size)
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(str(bundle), options.output, threads)
    ) as pool:
        for batch in batches(read_items(corpus, fmt), batch_size):
            digest = batch_digest(batch, options, bundle_hash)
            order.append(digest)
            if shard_keys(digest)[1] in existing:
                stats.done += len(batch)
                stats.skipped += 1
                continue
            while len(pending) >= 2 * workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(finished)
            try:
                pending[pool.submit(_run_batch, batch, options, bundle_hash)] = len(batch)
            except BrokenProcessPool:  # a worker died (out of memory, killed): stop; a re-run resumes
                stats.failed_batches.append("a worker process died (out of memory?); the pool stopped")
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            collect(finished)
    if not stats.failed_batches:
        _tally(stats, _write_manifest(store, order))
    progress.update(force=True)
    return stats


def pool_size(workers: int, items: int, batch_size: int) -> int:
    """No more processes than batches: each one loads the model (a fork pool starts them all at once)."""
    return max(1, min(workers, -(-items // max(batch_size, 1))))


def _tally(stats: RunStats, lines: list[dict[str, Any]]) -> None:
    """Bad items by reason and ids repeated across batches, over the whole corpus (a batch only sees its own)."""
    stats.bad = sum(int(line.get("failed", 0)) for line in lines)
    stats.bad_codes = Counter(str(err.get("code")) for line in lines for err in line.get("errors", []))
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for line in lines:
        for item_id in line.get("ids", []):
            if item_id in seen:
                repeated[item_id] = None
            seen.add(item_id)
    stats.repeated_ids = list(repeated)


def _write_manifest(store: Store, order: list[str]) -> list[dict[str, Any]]:
    """Every batch's manifest line, in corpus order; returns them."""
    lines = []
    for digest in order:
        line = read_line(store, shard_keys(digest)[1], digest)
        if line is None:  # written by this run a moment ago: a missing one is a storage fault
            raise RuntimeError(f"manifest line of batch {digest} vanished from {store.root}")
        lines.append(line)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    store.write(MANIFEST_FILE, (text + "\n").encode("utf-8") if lines else b"", "application/x-ndjson")
    return lines
