"""Bulk embedding of a corpus: {id, text} items in, Parquet shards plus manifest lines out.

The same worker runs as a Step Functions Distributed Map batch on Lambda (handler.bulk) and over a local
process pool (``python -m edge_encoders.bulk``, `make bulk`). numpy only: no pyarrow, boto3 only for s3://.
"""

from edge_encoders.bulk.items import Item, ItemError, check_item, check_items
from edge_encoders.bulk.parquet import write_embeddings_parquet
from edge_encoders.bulk.store import LocalStore, S3Store, Store, StoreError, open_store
from edge_encoders.bulk.worker import BulkEventError, BulkOptions, parse_event, process_batch, summary

__all__ = [
    "BulkEventError",
    "BulkOptions",
    "Item",
    "ItemError",
    "LocalStore",
    "S3Store",
    "Store",
    "StoreError",
    "check_item",
    "check_items",
    "open_store",
    "parse_event",
    "process_batch",
    "summary",
    "write_embeddings_parquet",
]
