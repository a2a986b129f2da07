"""The function URL client signs exactly as AWS expects: checked against botocore's signer, against an
independent SigV4 computation, and over a real HTTP round trip to a stub server on 127.0.0.1."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from edge_encoders.aws.function_url_client import FunctionUrlClient, FunctionUrlError, region_from_url

botocore_auth = pytest.importorskip("botocore.auth")
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example"
FROZEN = datetime.datetime(2026, 11, 27, 12, 34, 56, tzinfo=datetime.UTC)
URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def reference_authorization(
    method: str, url: str, headers: dict[str, str], body: bytes, region: str, secret: str = SECRET
) -> str:
    """SigV4 from the spec, written without botocore: what the service recomputes on its side."""
    parts = urlsplit(url)
    lowered = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed = sorted(lowered)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{name}:{lowered[name]}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    amz_date = lowered["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/lambda/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret).encode(), amz_date[:8])
    for part in (region, "lambda", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda *a, **k: FROZEN.replace(tzinfo=None))


def test_region_from_url() -> None:
    assert region_from_url(URL + "/embed") == "eu-west-1"
    assert region_from_url("http://127.0.0.1:9000/") is None


def test_signature_matches_botocore_and_the_spec(frozen_time: None) -> None:
    client = FunctionUrlClient(URL, credentials=Credentials(KEY, SECRET, TOKEN))
    body = json.dumps({"inputs": ["hello"]}).encode()
    headers = {"accept": "application/json", "content-type": "application/json"}
    ours = client.signed_headers("POST", URL + "/embed", body, headers)

    expected = AWSRequest(method="POST", url=URL + "/embed", data=body, headers=dict(headers))
    botocore_auth.SigV4Auth(Credentials(KEY, SECRET, TOKEN), "lambda", "eu-west-1").add_auth(expected)
    assert ours["Authorization"] == expected.headers["Authorization"]
    assert ours["X-Amz-Date"] == "20261127T123456Z"
    assert ours["X-Amz-Security-Token"] == TOKEN

    on_the_wire = {k: v for k, v in ours.items() if k != "Authorization"}
    on_the_wire["host"] = urlsplit(URL).netloc
    assert ours["Authorization"] == reference_authorization("POST", URL + "/embed", on_the_wire, body, "eu-west-1")
    # and the signature really covers the body: a different body gives a different signature
    other = client.signed_headers("POST", URL + "/embed", b'{"inputs": ["hullo"]}', headers)
    assert other["Authorization"] != ours["Authorization"]


def test_region_from_url_is_used_for_the_scope(frozen_time: None) -> None:
    client = FunctionUrlClient(URL.replace("eu-west-1", "ap-south-2"), credentials=Credentials(KEY, SECRET))
    headers = client.signed_headers("GET", URL.replace("eu-west-1", "ap-south-2") + "/health", b"", {})
    assert "/ap-south-2/lambda/aws4_request" in headers["Authorization"]
    assert "X-Amz-Security-Token" not in headers


class _Stub(BaseHTTPRequestHandler):
    """Answers like a function URL with AWS_IAM auth: 403 unless the SigV4 signature recomputes."""

    seen: list[dict[str, Any]]
    region = "us-east-1"

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("authorization", "")
        record = {"method": self.command, "path": self.path, "auth": auth, "body": body}
        type(self).seen.append(record)
        if auth.startswith("Bearer "):
            status, answer = 200, {"ok": True, "key": auth[len("Bearer ") :]}
        else:
            signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
            headers = {name: self.headers.get(name, "") for name in signed}
            url = f"http://{self.headers['host']}{self.path}"
            good = bool(signed) and auth == reference_authorization(self.command, url, headers, body, self.region)
            if self.path == "/too-big":
                status, answer = 413, {"error": {"message": "split the request", "type": "x", "code": "too_large"}}
            elif good:
                status, answer = 200, {"echo": json.loads(body) if body else None, "path": self.path}
            else:
                status, answer = 403, {"Message": "Forbidden"}
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Stub", (_Stub,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_round_trip_signed(stub: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = stub
    client = FunctionUrlClient(url, region="us-east-1", credentials=Credentials(KEY, SECRET, TOKEN))
    answer = client.embed(["a cat", "a dog"], normalize=True)
    assert answer == {"echo": {"inputs": ["a cat", "a dog"], "normalize": True}, "path": "/native/embed"}
    answer = client.rerank("q", ["d1", "d2"], top_n=1)
    assert answer["echo"] == {"query": "q", "texts": ["d1", "d2"], "top_n": 1}
    assert client.health()["path"] == "/health"
    assert [r["method"] for r in seen] == ["POST", "POST", "GET"]


def test_wrong_secret_is_refused_by_the_stub(stub: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = stub
    client = FunctionUrlClient(url, region="us-east-1", credentials=Credentials(KEY, "not-the-secret"))
    with pytest.raises(FunctionUrlError) as info:
        client.embed("x")
    assert info.value.status == 403 and "Forbidden" in info.value.message


def test_error_body_is_surfaced(stub: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = stub
    client = FunctionUrlClient(url, region="us-east-1", credentials=Credentials(KEY, SECRET))
    with pytest.raises(FunctionUrlError, match="answered 413: split the request") as info:
        client.request("POST", "/too-big", {"inputs": ["x"]})
    assert info.value.body["error"]["code"] == "too_large"


def test_api_key_mode_sends_bearer_and_no_signature(stub: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = stub
    assert FunctionUrlClient(url, api_key="k-123").embed("x") == {"ok": True, "key": "k-123"}
    assert seen[-1]["auth"] == "Bearer k-123"
    with pytest.raises(FunctionUrlError, match="Authorization header"):
        FunctionUrlClient(url, api_key="k", sign=True)


def test_unreachable_url_is_a_clear_error() -> None:
    client = FunctionUrlClient("http://127.0.0.1:9", sign=False, timeout=5)
    with pytest.raises(FunctionUrlError, match="failed"):
        client.health()
