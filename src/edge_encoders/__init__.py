"""edge_encoders: torch-free embeddings and reranking from validated ONNX bundles.

Only onnxruntime, tokenizers and numpy are imported here; a test keeps it that way.
"""

from edge_encoders.batching import BatchPolicy
from edge_encoders.embedder import Embedder, EmbedResult, TokenEmbedResult
from edge_encoders.errors import (
    BundleError,
    DeadlineExceededError,
    EdgeEncodersError,
    EmptyInputError,
    InputError,
    InputTooLongError,
    InvalidArgumentError,
    InvalidTextError,
    RequestCancelledError,
    StoppedError,
    TooManyInputsError,
    TooManyTokensError,
    UnboundedInputError,
)
from edge_encoders.manifest import Manifest, read_manifest
from edge_encoders.request_checks import Limits
from edge_encoders.reranker import Reranker, RerankHit, RerankResult
from edge_encoders.session import SessionConfig, available_cpus
from edge_encoders.stop import StopToken

__version__ = "0.1.0"

__all__ = [
    "BatchPolicy",
    "BundleError",
    "DeadlineExceededError",
    "EdgeEncodersError",
    "EmbedResult",
    "Embedder",
    "EmptyInputError",
    "InputError",
    "InputTooLongError",
    "InvalidArgumentError",
    "InvalidTextError",
    "Limits",
    "Manifest",
    "RequestCancelledError",
    "RerankHit",
    "RerankResult",
    "Reranker",
    "SessionConfig",
    "StopToken",
    "StoppedError",
    "TokenEmbedResult",
    "TooManyInputsError",
    "TooManyTokensError",
    "UnboundedInputError",
    "__version__",
    "available_cpus",
    "read_manifest",
]
