"""Run the hostile request set through the Lambda entry point in a fresh process and print what each cost.

Why a separate process: peak and settled RSS are only meaningful in a process that holds nothing else (pytest
holds models, fixtures and earlier tests' garbage). The peak is Linux's VmHWM, reset before each request
(``/proc/self/clear_refs`` 5), so each request's own peak is measured, not the process's history.

    python tests/hostile/probe.py --embed artifacts/embed --rerank artifacts/rerank [--arena on|off] [--rounds N]

prints one JSON object: warm RSS, then per request: status, seconds, peak RSS above warm; then settled RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
BODY_LIMIT = 6 * MB


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    return _status_kb("VmHWM") / 1024


class Context:
    """What Mangum and the middleware read from a Lambda context; remaining time counts down from 30 s."""

    aws_request_id = "probe"
    function_name = "edge-encoders"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:edge-encoders"

    def __init__(self, budget_ms: float = 30_000) -> None:
        self._end = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def event(path: str, body: Any = None, *, method: str = "POST", raw: str | None = None) -> dict[str, Any]:
    """A function URL event (payload 2.0)."""
    text = raw if raw is not None else json.dumps(body)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "x.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "probe",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
        "body": text if method == "POST" else None,
    }


def _fill(total_chars: int, word: str = "lorem ipsum dolor sit amet ") -> str:
    return (word * (total_chars // len(word) + 1))[:total_chars]


def hostile_set(admitted: int = 64) -> list[tuple[str, dict[str, Any]]]:
    """Requests a hostile or careless client sends, each within the 6 MB body limit unless named 'over'.

    `admitted`: how many 6 KB texts the two requests that pass every limit carry (they run the model).
    """
    near = BODY_LIMIT - 4096
    docs_6k = [_fill(6000)] * 1000
    return [
        (
            "rerank 32KB query x 1024 one-letter docs",
            event("/native/rerank", {"query": _fill(32_000), "texts": ["a"] * 1024}),
        ),
        (
            "rerank 3MB query + 3MB doc",
            event("/native/rerank", {"query": _fill(near // 2 - 64), "texts": [_fill(near // 2 - 64)]}),
        ),
        ("embed one 6MB string", event("/native/embed", {"inputs": _fill(near)})),
        ("embed one 6MB word", event("/native/embed", {"inputs": "a" * near})),
        ("embed one 6MB whitespace run", event("/native/embed", {"inputs": "a" + " " * (near - 2) + "b"})),
        ("embed 2M CJK characters", event("/native/embed", {"inputs": "中文字符" * (near // 28)})),
        ("tokenize one 6MB word", event("/tokenize", {"inputs": "a" * near})),
        ("tokenize one 6MB whitespace run", event("/tokenize", {"inputs": ["a", " " * near]})),
        (f"embed {admitted} x 6KB (admitted)", event("/native/embed", {"inputs": docs_6k[:admitted]})),
        (
            f"rerank 32KB query x {admitted} docs (admitted)",
            event("/native/rerank", {"query": _fill(32_000), "texts": docs_6k[:admitted]}),
        ),
        ("embed 6MB string, truncate off", event("/native/embed", {"inputs": _fill(near), "truncate": False})),
        ("embed 1000 x 6KB", event("/native/embed", {"inputs": docs_6k})),
        ("openai 1000 x 6KB", event("/v1/embeddings", {"input": docs_6k})),
        (
            "embed 3MB prompt x 1000 inputs",
            event("/native/embed", {"inputs": ["x"] * 1000, "prompt": _fill(near // 2)}),
        ),
        (
            "cohere 1000 x 6KB docs, max_tokens_per_doc",
            event("/v2/rerank", {"query": "q", "documents": docs_6k, "max_tokens_per_doc": 100}),
        ),
        ("rerank 100k docs (too many)", event("/native/rerank", {"query": "q", "texts": ["a"] * 100_000})),
        ("embed lone surrogate", event("/native/embed", raw='{"inputs": ["ok", "\\ud800"]}')),
        ("over the body limit", event("/native/embed", {"inputs": _fill(BODY_LIMIT + 1024)})),
    ]


def _error_code(body: str) -> str | None:
    """Our error's code; on TEI's paths (TEI's {error, error_type} shape, no code) its error_type."""
    data = json.loads(body)
    error = data.get("error")
    return error.get("code") if isinstance(error, dict) else data.get("error_type")


def _error_message(body: str) -> str:
    error = json.loads(body).get("error")
    return str(error.get("message") if isinstance(error, dict) else error)[:200]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from handler.app import create_app, lambda_handler_for
    from handler.settings import Settings

    settings = Settings(
        embed_bundle=args.embed,
        rerank_bundle=args.rerank,
        cpu_mem_arena=args.arena == "on",
        access_log=False,
        max_body_bytes=BODY_LIMIT,
    )
    handler = lambda_handler_for(create_app(settings))
    small = [
        event("/native/embed", {"inputs": ["warm up", "a second text"]}),
        event("/native/rerank", {"query": "q", "texts": ["a", "b"]}),
    ]
    for e in small * 3:
        handler(e, Context())
    gc.collect()
    warm = rss_mb()
    can_reset = reset_peak()
    results = []
    for _round in range(args.rounds):
        for name, ev in hostile_set(args.admitted):
            gc.collect()
            reset_peak()
            started = time.perf_counter()
            answer = handler(ev, Context())
            seconds = time.perf_counter() - started
            results.append(
                {
                    "name": name,
                    "status": answer["statusCode"],
                    "seconds": round(seconds, 3),
                    "peak_above_warm_mb": round(peak_mb() - warm, 1) if can_reset else None,
                    "code": _error_code(answer["body"]) if answer["statusCode"] >= 400 else None,
                    "message": _error_message(answer["body"]) if answer["statusCode"] >= 400 else None,
                }
            )
            del answer, ev
    for e in small * 3:
        handler(e, Context())
    gc.collect()
    return {"warm_mb": round(warm, 1), "settled_mb": round(rss_mb(), 1), "peak_reset": can_reset, "requests": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embed", default=str(REPO / "artifacts" / "embed"))
    parser.add_argument("--rerank", default=str(REPO / "artifacts" / "rerank"))
    parser.add_argument("--arena", choices=["on", "off"], default="on")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--admitted", type=int, default=64, help="6 KB texts in the requests that run the model")
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
