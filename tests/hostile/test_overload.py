"""Overload and slow clients against the real server (`python -m handler.serve`) on 127.0.0.1.

Three servers: a small queue without a deadline whose places the test holds itself (429, /ready, recovery), one
with a short deadline (504), and one without a deadline but with short body and header timeouts (disconnect
stops the work, stalled bodies get 408, stalled heads are cut off). Statuses and log records are asserted; times
only where the margin is orders of magnitude, so a slow or busy machine changes none of the outcomes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from helpers.handler_support import bundle_paths

REPO = Path(__file__).resolve().parents[2]
TEXT_6K = ("lorem ipsum dolor sit amet " * 230)[:6000]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, log: Path, **env: str) -> None:
        embed, rerank = bundle_paths()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        full_env = {**os.environ, "EDGE_EMBED_BUNDLE": str(embed), "EDGE_RERANK_BUNDLE": str(rerank), **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "handler.serve", "--port", str(self.port)],
            cwd=REPO,
            env=full_env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:])
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start: " + log.read_text()[-2000:])

    def records(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("busy") / "log",
        EDGE_MAX_CONCURRENCY="1",
        EDGE_MAX_QUEUE="2",
        EDGE_REQUEST_TIMEOUT_MS="1500",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One slot, two queued, no deadline: what the overload test asserts does not depend on how fast the CPU is."""
    server = Server(
        tmp_path_factory.mktemp("crowded") / "log",
        EDGE_MAX_CONCURRENCY="1",
        EDGE_MAX_QUEUE="2",
        EDGE_REQUEST_TIMEOUT_MS="0",
        EDGE_BODY_TIMEOUT_MS="60000",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("patient") / "log",
        EDGE_REQUEST_TIMEOUT_MS="0",
        EDGE_BODY_TIMEOUT_MS="500",
        EDGE_HEADER_TIMEOUT_MS="500",
    )
    yield server
    server.stop()


def _hold_a_place(server: Server, body: bytes) -> socket.socket:
    """A POST whose head and first body byte are sent and the rest held back: admitted (admission comes before
    the body is read), so it holds one of the server's places for as long as the test wants, whatever the CPU."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (
        "POST /native/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:1])
    return sock


def _finish(sock: socket.socket, body: bytes) -> tuple[int, bytes]:
    """Send the held-back rest of the body and read the whole answer (the server closes: Connection: close)."""
    with sock:
        sock.sendall(body[1:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _wait_for_ready(server: Server, status: int) -> None:
    deadline = time.monotonic() + 30
    while httpx.get(server.url + "/ready", timeout=5).status_code != status:
        assert time.monotonic() < deadline, f"/ready never answered {status}"
        time.sleep(0.05)


def test_overload_answers_429_with_retry_after_and_health_stays_up(crowded: Server) -> None:
    # capacity is 1 slot + 2 queued: three held requests fill it, deterministically (no race with the CPU)
    small = json.dumps({"inputs": ["held", "back"]}).encode()
    held = [_hold_a_place(crowded, small) for _ in range(3)]
    try:
        _wait_for_ready(crowded, 503)  # readiness says "full" while every place is taken
        body = {"inputs": [TEXT_6K] * 16}
        with ThreadPoolExecutor(max_workers=12) as pool, httpx.Client(timeout=60) as client:
            storm = [pool.submit(client.post, crowded.url + "/native/embed", json=body) for _ in range(12)]
            health_codes = set()
            while not all(f.done() for f in storm):
                health_codes.add(client.get(crowded.url + "/health").status_code)
                time.sleep(0.02)
            answers = [f.result() for f in storm]
        assert [r.status_code for r in answers] == [429] * 12
        assert all(r.headers["retry-after"] == "1" for r in answers)
        assert {r.json()["error"]["code"] for r in answers} == {"overloaded"}
        assert health_codes == {200}  # liveness is not admission: it answers while the server is full
        assert httpx.get(crowded.url + "/ready", timeout=5).status_code == 503
    finally:
        finished = [_finish(sock, small) for sock in held]
    # the held requests were admitted, not refused: each computes once its body is in
    assert [status for status, _ in finished] == [200, 200, 200], finished
    assert all(len(json.loads(data)["embeddings"]) == 2 for _, data in finished)
    _wait_for_ready(crowded, 200)  # and the server recovers
    recovered = httpx.post(crowded.url + "/native/embed", json={"inputs": [TEXT_6K] * 16}, timeout=60)
    assert recovered.status_code == 200, recovered.text


def test_the_deadline_stops_a_long_request_with_504(busy: Server) -> None:
    started = time.monotonic()
    r = httpx.post(busy.url + "/native/embed", json={"inputs": [TEXT_6K] * 250}, timeout=120)
    assert (r.status_code, r.json()["error"]["code"]) == (504, "deadline_exceeded")
    assert time.monotonic() - started < 60  # the whole request would take far longer


def test_no_server_header_and_no_versions(busy: Server) -> None:
    r = httpx.get(busy.url + "/health", timeout=5)
    assert "server" not in r.headers
    assert httpx.get(busy.url + "/native/info", timeout=5).json()["versions"] == {}
    tei_info = httpx.get(busy.url + "/info", timeout=5).text  # TEI's: its API version, no paths or library versions
    assert "/work" not in tei_info and "onnxruntime" not in tei_info


def test_a_disconnected_client_s_work_stops_at_the_next_micro_batch(patient: Server) -> None:
    body = json.dumps({"inputs": [TEXT_6K] * 250}).encode()
    head = (
        "POST /native/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", patient.port)) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(1.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cancelled = [r for r in patient.records() if r.get("error_code") == "cancelled"]
        if cancelled:
            break
        time.sleep(0.2)
    assert cancelled, patient.log.read_text()[-2000:]
    assert cancelled[0]["status"] == 499
    assert httpx.post(patient.url + "/native/embed", json={"inputs": "after"}, timeout=30).status_code == 200


def test_a_stalled_body_gets_408(patient: Server) -> None:
    with socket.create_connection(("127.0.0.1", patient.port), timeout=10) as sock:
        sock.sendall(b"POST /native/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b'{"inputs": "')
        answer = ""
        while '"body_timeout"' not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk.decode("latin-1")
    assert answer.startswith("HTTP/1.1 408"), answer
    assert '"body_timeout"' in answer


def test_a_stalled_request_head_is_cut_off(patient: Server) -> None:
    with socket.create_connection(("127.0.0.1", patient.port), timeout=10) as sock:
        sock.sendall(b"POST /native/embed HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = sock.recv(1024)
    assert closed == b"" and time.monotonic() - started < 8
