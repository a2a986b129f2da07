"""`make demo`'s body once the bundles exist: run the function under the Lambda emulator on 127.0.0.1, send
one request of each kind, print readable answers, and stop everything it started (Ctrl-C and errors too).

    python scripts/demo.py            # artifacts/embed + artifacts/rerank (make export)
    python scripts/demo.py --dev      # artifacts/dev bundles (wiring only: untrained reranker head)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from edge_devtools import lambda_emulator as lem

EVENTS = lem.REPO / "events"


def _event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text(encoding="utf-8")))


def _call(emulator: lem.LambdaEmulator, name: str) -> tuple[dict[str, Any], Any, lem.Invocation]:
    event = _event(name)
    result = emulator.invoke(event)
    if result.function_error or result.http_status != 200:
        raise lem.EmulatorError(f"{name}: {result.function_error or result.http_status}: {result.payload}")
    return json.loads(event["body"]), result.json_body(), result


def _timing(result: lem.Invocation) -> str:
    compute = result.header("x-compute-time")
    try:
        extra = f", {float(compute or ''):.0f} ms compute in the function"
    except ValueError:
        extra = f", compute {compute}" if compute else ""
    return f"{result.seconds * 1000:.0f} ms round trip{extra}"


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_demo(bundles: dict[str, Path]) -> None:
    started = time.perf_counter()
    root = lem.build_task_root(bundles)
    size = root.summary()
    print(
        f"task root: {size['task_root_mb_without_bundles']} MB of code and dependencies (no torch) "
        f"+ {size['bundles_mb']} MB of bundles, Python {size['python']}"
    )
    with lem.LambdaEmulator(root) as emulator:
        print(f"function running under the Lambda Runtime Interface Emulator at {emulator.url}\n")

        request, body, result = _call(emulator, "embed.json")
        vectors = np.asarray(body["embeddings"], dtype=np.float32)
        init = emulator.init_duration_ms()
        print(f"cold start: init {init:.0f} ms (imports, both models, warm-up)" if init else "cold start")
        print(f"POST /native/embed ({_timing(result)}, first call includes init)")
        print(
            f"  {len(request['inputs'])} texts -> vectors of shape {vectors.shape}, norms "
            f"{', '.join(f'{n:.3f}' for n in np.linalg.norm(vectors, axis=1))}"
        )
        sims = vectors @ vectors.T / np.outer(np.linalg.norm(vectors, axis=1), np.linalg.norm(vectors, axis=1))
        texts = request["inputs"]
        for i in range(1, len(texts)):
            print(f"  cosine({_short(texts[0], 30)!r}, {_short(texts[i], 40)!r}) = {sims[0, i]:.3f}")

        request, body, result = _call(emulator, "rerank.json")
        top = body["results"][0]
        print(f"\nPOST /native/rerank ({_timing(result)})")
        print(f"  query: {request['query']!r}")
        for hit in body["results"]:
            print(f"  {hit['score']:.4f}  [{hit['index']}] {_short(request['texts'][hit['index']])}")
        print(f"  top passage: {request['texts'][top['index']]!r}")

        request, body, result = _call(emulator, "tei_embed.json")
        print(f"\nPOST /embed, text-embeddings-inference style ({_timing(result)})")
        print(f"  {len(body)} bare vectors of {len(body[0])} dims (TEI's [[...]]), as TEI clients expect")

        request, body, result = _call(emulator, "openai_embeddings.json")
        first = np.asarray(body["data"][0]["embedding"], dtype=np.float32)
        print(f"\nPOST /v1/embeddings, OpenAI style ({_timing(result)})")
        print(
            f"  model {body['model']!r}: {len(body['data'])} embeddings of {first.shape[0]} dims, "
            f"norm {np.linalg.norm(first):.3f}, usage {body['usage']}"
        )

        request, body, result = _call(emulator, "cohere_rerank.json")
        top = body["results"][0]
        print(f"\nPOST /v1/rerank, Cohere style ({_timing(result)})")
        print(
            f"  top_n={request['top_n']}: "
            + ", ".join(f"[{h['index']}] {h['relevance_score']:.4f}" for h in body["results"])
        )
        print(f"  top document: {top['document']['text']!r}")
    print(f"\nstopped the function; demo took {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", action="store_true", help="use the artifacts/dev bundles (wiring only)")
    args = parser.parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwind through the context managers that stop the emulator

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    try:
        run_demo(lem.dev_bundles() if args.dev else lem.default_bundles())
    except lem.EmulatorError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the function was stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
