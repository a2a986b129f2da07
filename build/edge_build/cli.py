"""`edge-encoders export` / `python -m edge_build export`: build the bundle of every model family.

Exit codes: 0 bundles written (or already current), 1 a model had no variant passing its gate, 2 a setting,
source or build step is wrong (one line on stderr saying what and how to fix it, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from edge_build.config import KNOWN_VARIANTS
from edge_build.families import FAMILIES, FAMILY_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-encoders", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="export, optimize, quantize and validate the models; write the bundles",
        description="Export the embedder and reranker to validated ONNX bundles (defaults: config/models.toml).",
    )
    for family in FAMILIES.values():
        export.add_argument(family.cli_flag, metavar="SOURCE", dest=family.name, help=family.source_help)
    for family in FAMILIES.values():
        export.add_argument(
            f"{family.cli_flag}-revision",
            metavar="REV",
            dest=f"{family.name}_revision",
            help=f"hub revision of the {family.title} (commit to pin)",
        )
    export.add_argument(
        "--trust-remote-code", action="store_true", default=None, help="allow model code from the hub (pinned only)"
    )
    export.add_argument(
        "--out", metavar="DIR", help=f"output folder (bundles go to {' and '.join(f'DIR/{n}' for n in FAMILY_NAMES)})"
    )
    export.add_argument("--work-dir", metavar="DIR", help="cache of exports and variants (default OUT/.work)")
    export.add_argument(
        "--variants",
        nargs="+",
        metavar="NAME",
        help=f"variants to try (space or comma separated): {', '.join(KNOWN_VARIANTS)}",
    )
    export.add_argument("--config", metavar="FILE", type=Path, help="TOML config (default config/models.toml)")
    export.add_argument("--only", choices=FAMILY_NAMES, help="build one model only (default: all)", default=None)
    export.add_argument("--force", action="store_true", help="rebuild even when the bundle is current")
    export.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    return parser


def _quiet_libraries() -> None:
    """Export prints tracer and deprecation warnings a user cannot act on; keep the output to our lines."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("transformers", "optimum", "onnxruntime", "sentence_transformers", "root"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except ImportError:
        pass


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    variants = None
    if args.variants:
        variants = [v.strip() for item in args.variants for v in item.split(",") if v.strip()]
    per_family: dict[str, object] = {}
    for name in FAMILY_NAMES:
        per_family[name] = getattr(args, name)
        per_family[f"{name}_revision"] = getattr(args, f"{name}_revision")
    return {
        **per_family,
        "trust_remote_code": args.trust_remote_code,
        "output_dir": args.out,
        "work_dir": args.work_dir,
        "variants": variants,
    }


def _unused_with_only(args: argparse.Namespace) -> list[str]:
    """Options naming another family's source or revision than the one --only builds (a conflict, not a no-op)."""
    if not args.only:
        return []
    unused = []
    for family in FAMILIES.values():
        if family.name == args.only:
            continue
        if getattr(args, family.name) is not None:
            unused.append(family.cli_flag)
        if getattr(args, f"{family.name}_revision") is not None:
            unused.append(f"{family.cli_flag}-revision")
    return unused


def export_command(args: argparse.Namespace) -> int:
    from edge_build.config import ConfigError, load_config
    from edge_build.errors import BuildError
    from edge_build.pipeline import GateFailure, run_export
    from edge_build.sources import SourceError

    started = time.perf_counter()
    unused = _unused_with_only(args)
    if unused:
        print(
            f"edge-encoders export: error: --only {args.only} builds the {args.only} model only, so "
            f"{' and '.join(unused)} would be ignored; drop --only, or drop those options",
            file=sys.stderr,
        )
        return 2
    try:
        cfg = load_config(args.config, _overrides(args))
        kinds = (args.only,) if args.only else FAMILY_NAMES
        outcomes = run_export(cfg, kinds=kinds, force=args.force)
    except GateFailure as exc:
        print(f"edge-encoders export: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, SourceError) as exc:
        print(f"edge-encoders export: error: {exc.message}", file=sys.stderr)
        return 2
    except BuildError as exc:
        print(f"edge-encoders export: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edge-encoders export: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"edge-encoders export: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1
    for outcome in outcomes:
        state = "up to date" if outcome.cached else "written"
        print(f"{outcome.kind}: {outcome.bundle_dir} {state} (variant {outcome.report.get('shipped')})")
    print(f"export finished in {time.perf_counter() - started:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not getattr(args, "debug", False):
        _quiet_libraries()
    if args.command == "export":
        return export_command(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
