"""Typed domain errors of the runtime.

One hierarchy, no HTTP: the handler maps each class to one status code, so the runtime never has to know
what transport it serves. ``code`` is a stable machine-readable string that ends up in error bodies.
"""

from __future__ import annotations


class EdgeEncodersError(Exception):
    """Base of every error the runtime raises on purpose."""

    code = "edge_encoders_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BundleError(EdgeEncodersError):
    """The bundle on disk cannot be used: missing, truncated or altered file, unknown schema, bad manifest."""

    code = "bad_bundle"


class InputError(EdgeEncodersError):
    """The caller's input cannot be served as given (the client's fault, not ours)."""

    code = "invalid_input"


class EmptyInputError(InputError):
    """No inputs, or an input that is empty where text is required."""

    code = "empty_input"


class InvalidTextError(InputError):
    """A text is not valid Unicode (a lone surrogate, as JSON's \\ud800 escapes can carry): no tokenizer takes it."""

    code = "invalid_unicode"

    def __init__(self, message: str, *, field: str, index: int | None, position: int) -> None:
        super().__init__(message)
        self.field = field
        self.index = index
        self.position = position


class TooManyInputsError(InputError):
    """More inputs in one call than the configured limit allows."""

    code = "too_many_inputs"


class TooManyTokensError(InputError):
    """The inputs of one call hold more tokens (after truncation) than the configured limit."""

    code = "too_many_tokens"

    def __init__(self, message: str, *, total: int, limit: int) -> None:
        super().__init__(message)
        self.total = total
        self.limit = limit


class InputTooLongError(InputError):
    """An input is longer than max_seq_length while truncation is turned off."""

    code = "input_too_long"

    def __init__(self, message: str, *, index: int, length: int, limit: int) -> None:
        super().__init__(message)
        self.index = index
        self.length = length
        self.limit = limit


class UnboundedInputError(InputError):
    """An input would have to be tokenized beyond the scan limit to know its kept tokens (no token boundary)."""

    code = "input_unbounded"

    def __init__(self, message: str, *, index: int, limit: int) -> None:
        super().__init__(message)
        self.index = index
        self.limit = limit


class InvalidArgumentError(InputError):
    """An argument has a value the model cannot honour (unknown prompt, dimensions too large, bad precision)."""

    code = "invalid_argument"


class StoppedError(EdgeEncodersError):
    """Work stopped between micro-batches because its caller no longer wants it (not the input's fault)."""

    code = "stopped"


class DeadlineExceededError(StoppedError):
    """The call's deadline passed before it finished."""

    code = "deadline_exceeded"


class RequestCancelledError(StoppedError):
    """The caller went away (e.g. an HTTP client disconnected) before the call finished."""

    code = "cancelled"
