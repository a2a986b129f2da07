"""Command line of the local bulk runner: ``python -m edge_encoders.bulk CORPUS OUTPUT`` (what `make bulk` runs).

Exit codes: 0 every batch done (bad items are reported, not fatal), 1 a batch failed (re-run to resume),
2 bad arguments, an empty corpus, an unusable bundle/output, or no item embedded at all (one line, no
traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_encoders.bulk.checks import check_corpus, check_output
from edge_encoders.bulk.local import MANIFEST_FILE, RunStats, run
from edge_encoders.bulk.reader import corpus_format
from edge_encoders.bulk.store import open_store
from edge_encoders.bulk.worker import BulkOptions
from edge_encoders.errors import EdgeEncodersError
from edge_encoders.families import EMBED
from edge_encoders.manifest import read_manifest
from edge_encoders.precision import PRECISIONS
from edge_encoders.session import available_cpus


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edge_encoders.bulk",
        description="Embed a JSONL/CSV corpus of {id, text} items into Parquet shards (resumable).",
    )
    parser.add_argument("corpus", help="JSONL (one {id, text} object per line) or CSV with a header")
    parser.add_argument("output", help="a folder or s3://bucket/prefix")
    parser.add_argument("--bundle", default="artifacts/embed", help="embed bundle folder (default: %(default)s)")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file name")
    parser.add_argument("--batch-size", type=int, default=256, help="items per shard (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="processes (default: the CPUs this process may use)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per process (default: 1)")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    parser.add_argument("--dimensions", type=int, help="matryoshka truncation (default: the model's dimension)")
    parser.add_argument("--no-truncate", action="store_true", help="report over-long texts instead of truncating")
    parser.add_argument("--prompt-name", help="a prompt of the bundle (e.g. passage)")
    parser.add_argument("--id-field", default="id")
    parser.add_argument("--text-field", default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fail = lambda message: print(f"bulk: {message}", file=sys.stderr) or 2  # noqa: E731
    if not Path(args.corpus).is_file():
        return fail(f"{args.corpus} is not a file")
    if args.batch_size < 1 or args.workers < 0 or args.threads < 1:
        return fail("--batch-size and --threads must be at least 1, --workers at least 0")
    try:
        fmt = corpus_format(args.corpus, args.format)
        manifest = read_manifest(args.bundle)
        if manifest.kind != EMBED.name:
            return fail(
                f"{args.bundle} is a {manifest.kind!r} bundle; bulk embeds with an {EMBED.name!r} bundle "
                f"(--bundle artifacts/embed, or BULK_BUNDLE= with make bulk)"
            )
        # refused here, once, rather than by every batch with "run again to resume"
        if args.dimensions is not None and not 1 <= args.dimensions <= (manifest.dimension or 0):
            return fail(f"--dimensions must be between 1 and {manifest.dimension}; got {args.dimensions}")
        if args.prompt_name is not None and args.prompt_name not in (manifest.prompts or {}):
            known = ", ".join(sorted(manifest.prompts or {})) or "none"
            return fail(f"--prompt-name {args.prompt_name!r} is not a prompt of this bundle (it has: {known})")
        options = BulkOptions(
            output=args.output,
            precision=args.precision,
            dimensions=args.dimensions,
            truncate=not args.no_truncate,
            prompt_name=args.prompt_name,
            id_field=args.id_field,
            text_field=args.text_field,
        )
        options.check_types()
        check_output(args.output)
        check_corpus(args.corpus, fmt, id_field=args.id_field, text_field=args.text_field)
    except (EdgeEncodersError, ValueError) as exc:
        return fail(getattr(exc, "message", str(exc)))
    workers = args.workers or max(1, available_cpus() // args.threads)
    try:
        stats = run(
            args.corpus,
            options,
            args.bundle,
            fmt=fmt,
            batch_size=args.batch_size,
            workers=workers,
            threads=args.threads,
        )
    except EdgeEncodersError as exc:
        return fail(exc.message)
    except KeyboardInterrupt:
        return fail("interrupted: run the same command again to resume")
    if stats.failed_batches:
        for message in sorted(set(stats.failed_batches))[:5]:
            print(f"bulk: batch failed: {message}", file=sys.stderr)
        return fail(f"{len(stats.failed_batches)} batch(es) failed: run the same command again to resume")
    where = open_store(args.output).uri(MANIFEST_FILE)
    _report_items(stats)
    print(
        f"bulk: done, {stats.written} shards written, {stats.skipped} already complete, {stats.bad} bad items; "
        f"see {where}"
    )
    if stats.total and stats.bad >= stats.total:
        return fail(f"no item was embedded: all {stats.total} were refused (reasons above, each in {where})")
    return 0


def _report_items(stats: RunStats) -> None:
    """What the bad items were and which ids repeat: the manifest holds each one, this line says whether to look."""
    if stats.bad_codes:
        reasons = ", ".join(f"{code} {count}" for code, count in stats.bad_codes.most_common())
        print(f"bulk: bad items by reason: {reasons}", file=sys.stderr)
    if stats.repeated_ids:
        shown = ", ".join(repr(i) for i in stats.repeated_ids[:3])
        print(
            f"bulk: warning: {len(stats.repeated_ids)} id(s) appear in more than one batch ({shown}"
            f"{', ...' if len(stats.repeated_ids) > 3 else ''}): the shards hold a vector for each occurrence; "
            f"make ids unique or deduplicate when reading",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(main())
