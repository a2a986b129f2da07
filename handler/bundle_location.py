"""Where a model family's bundle is on disk: the configured folder, or a verified copy fetched from S3.

Shared by the HTTP function (loaded_models) and the bulk function, which must not import the web stack.
"""

from __future__ import annotations

from pathlib import Path

from handler.settings import Settings


def local_bundle(settings: Settings, family: str, location: str) -> Path:
    """The bundle folder of `family` (e.g. 'embed'): `location` as is, or `<EDGE_BUNDLE_S3_URI>/<family>` fetched."""
    if not settings.bundle_s3_uri:
        return Path(location)
    # imported here, not at the top, so a deployment without S3 bundles never imports boto3
    from edge_encoders.aws.s3_bundles import fetch_bundle

    uri = f"{settings.bundle_s3_uri.rstrip('/')}/{family}"
    fetched: Path = fetch_bundle(uri, Path(settings.bundle_cache_dir) / family)
    return fetched
