"""`make publish`: upload the embed and rerank bundles to S3, where the function fetches them at init.

    python scripts/publish.py s3://my-bucket/edge-encoders/v1 [--embed artifacts/embed] [--rerank artifacts/rerank]

Then deploy with BundleS3Uri=s3://my-bucket/edge-encoders/v1. Every file is verified against its manifest
before upload, and each manifest goes up after its files. Credentials and region are boto3's usual ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_encoders.aws.s3_bundles import publish_bundle
from edge_encoders.errors import EdgeEncodersError

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("s3_uri", help="s3://bucket/prefix: bundles go to <prefix>/embed and <prefix>/rerank")
    parser.add_argument("--embed", type=Path, default=REPO / "artifacts" / "embed")
    parser.add_argument("--rerank", type=Path, default=REPO / "artifacts" / "rerank")
    args = parser.parse_args(argv)
    base = args.s3_uri.rstrip("/")
    try:
        for kind, folder in (("embed", args.embed), ("rerank", args.rerank)):
            keys = publish_bundle(folder, f"{base}/{kind}")
            print(f"{kind}: {folder} -> {base}/{kind} ({len(keys)} objects)")
    except EdgeEncodersError as exc:
        print(f"publish failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"deploy with: BundleS3Uri={base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
