"""Lambda entry point of the bulk function: one Step Functions Distributed Map batch per invocation.

Same image as the HTTP function, another command (template.yaml: ImageConfig.Command
``handler.bulk.handler``). The embedder loads once per sandbox, from the baked bundle or S3 like the HTTP
function; the work is edge_encoders.bulk's. The return value is small (the manifest line without the ids,
errors capped): Step Functions keeps at most 256 KB per child result; the full line is in the output prefix.
A broken event or an unusable output raises, so the batch counts as failed (ToleratedFailurePercentage)
and Step Functions' retry policy applies; bad items never raise.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from edge_encoders import Embedder, SessionConfig
from edge_encoders.bulk import open_store, parse_event, process_batch, summary
from edge_encoders.bulk.worker import bundle_sha256
from edge_encoders.errors import BundleError
from edge_encoders.families import EMBED
from handler.bundle_location import local_bundle
from handler.settings import Settings

log = logging.getLogger("handler.bulk")

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _load(settings: Settings) -> tuple[Embedder, str]:
    """The embedder and its bundle digest, once per process."""
    with _lock:
        if "embedder" not in _cache:
            location = settings.bundle_path(EMBED.name)
            if location is None:
                raise BundleError("the bulk function needs an embed bundle (EDGE_EMBED_BUNDLE is turned off)")
            embedder = EMBED.model.from_bundle(
                local_bundle(settings, EMBED.name, location),
                session_config=SessionConfig(intra_op_threads=settings.threads or None),
                verify=settings.verify_bundles,
            )
            _cache["embedder"] = embedder
            _cache["bundle"] = bundle_sha256(embedder.manifest)
        return _cache["embedder"], _cache["bundle"]


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Embed the batch's items into one shard; returns the batch summary."""
    settings = Settings.from_env()
    items, options = parse_event(event, default_output=settings.bulk_output or None)
    embedder, bundle = _load(settings)
    line = process_batch(embedder, items, options, open_store(options.output), bundle=bundle)
    log.info(
        "bulk batch %s: %d embedded, %d bad, %s",
        line["digest"],
        line["count"],
        line["failed"],
        "skipped (already complete)" if line["skipped"] else f"{line['seconds']} s",
    )
    return summary(line)
