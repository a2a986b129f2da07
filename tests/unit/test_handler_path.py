"""The request path's joints: runtime errors map by one table, and limit errors name the field the request used."""

from __future__ import annotations

import inspect

import pytest
from helpers.toy_handler import make_app
from starlette.testclient import TestClient

from edge_encoders import errors
from handler.errors import from_runtime


def _make(cls: type[errors.EdgeEncodersError]) -> errors.EdgeEncodersError:
    """An instance with a message, whatever extra keywords the class takes."""
    extra = {
        errors.InvalidTextError: {"field": "input", "index": 0, "position": 1},
        errors.TooManyTokensError: {"total": 9, "limit": 8},
        errors.InputTooLongError: {"index": 0, "length": 9, "limit": 8},
        errors.UnboundedInputError: {"index": 0, "limit": 8},
    }.get(cls, {})
    return cls("the runtime's message", **extra)  # type: ignore[arg-type]


# every runtime error class -> (status, whether the client sees the runtime's own message)
EXPECTED: dict[type[errors.EdgeEncodersError], tuple[int, bool]] = {
    errors.EdgeEncodersError: (500, False),
    errors.BundleError: (503, False),
    errors.InputError: (422, True),
    errors.EmptyInputError: (400, True),
    errors.InvalidTextError: (400, True),
    errors.TooManyInputsError: (413, True),
    errors.TooManyTokensError: (413, True),
    errors.InputTooLongError: (422, True),
    errors.UnboundedInputError: (413, True),
    errors.InvalidArgumentError: (422, True),
    errors.StoppedError: (500, False),
    errors.DeadlineExceededError: (504, True),
    errors.RequestCancelledError: (499, True),
}


def test_every_runtime_error_class_has_a_decided_status() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.EdgeEncodersError) and obj.__module__ == errors.__name__
    }
    assert defined == set(EXPECTED)  # a new runtime error needs its status decided here and in handler/errors.py


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_runtime_error_maps_to_its_status(cls: type[errors.EdgeEncodersError]) -> None:
    status, passed_on = EXPECTED[cls]
    api = from_runtime(_make(cls))
    assert api.status == status
    if passed_on:
        assert (api.code, api.message) == (cls.code, "the runtime's message")
    else:  # our failure: the details stay in the log
        assert "the runtime's message" not in api.message and api.code in ("internal_error", "model_unavailable")


@pytest.fixture(scope="module")
def tight() -> TestClient:
    return TestClient(make_app(max_inputs=2, max_tokens=12))


LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": [LONG]}}, "sentences"),
        ("/v2/embed", {"texts": [LONG], "embedding_types": ["float"]}, "texts"),
        ("/native/embed", {"inputs": [LONG]}, "inputs"),
        ("/native/rerank", {"query": "q", "texts": [LONG]}, "texts"),
        ("/v2/rerank", {"query": "q", "documents": [LONG]}, "documents"),
    ],
)
def test_token_limit_errors_name_the_requests_field(tight: TestClient, path: str, body: dict, field: str) -> None:
    r = tight.post(path, json=body)
    assert r.status_code in (400, 413), r.text  # Cohere's paths answer 400 for it
    message = r.text
    assert "over the limit of 12" in message and f" {field} or fewer" in message, message


@pytest.mark.parametrize(
    ("path", "body", "advice"),
    [
        # the source sentence is embedded in the same call: with a limit of 2, one sentence per call fits
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}, "at most 1 sentences"),
        ("/v2/embed", {"texts": ["a", "b", "c"], "embedding_types": ["float"]}, "at most 2 texts"),
        ("/native/rerank", {"query": "q", "texts": ["a", "b", "c"]}, "at most 2 texts"),
    ],
)
def test_count_limit_errors_name_the_requests_field(tight: TestClient, path: str, body: dict, advice: str) -> None:
    r = tight.post(path, json=body)
    assert r.status_code in (400, 413), r.text
    assert advice in r.text, r.text


def test_similarity_at_the_batch_limit_counts_the_source_sentence(tight: TestClient) -> None:
    fits = tight.post("/similarity", json={"inputs": {"source_sentence": "a", "sentences": ["b"]}})
    assert fits.status_code == 200 and len(fits.json()) == 1, fits.text
