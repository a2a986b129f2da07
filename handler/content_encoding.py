"""Request bodies sent compressed (`Content-Encoding: gzip` or `deflate`), inflated under the body limit.

Why here: a function URL or API Gateway hands the function the body exactly as the client sent it (base64 of
the compressed bytes, the header kept), so without this a compressed JSON body fails as unparseable bytes. The
inflated size is capped by the same limit as a plain body, so a small compressed body cannot expand into a
large allocation (a zip bomb stops at limit + 1 bytes of output).
"""

from __future__ import annotations

import zlib

from handler.errors import ApiError

# zlib window bits: gzip framing, zlib framing (HTTP's "deflate"); a raw deflate stream is tried after zlib
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


def inflate(body: bytes, content_encoding: str, limit: int) -> bytes:
    """The body with its content codings undone, last applied first; `limit` 0 means no cap."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in _WBITS:
            raise ApiError(
                415,
                "unsupported_content_encoding",
                f"Content-Encoding {coding!r} is not supported; send the body uncompressed, gzip or deflate",
            )
        body = _inflate_one(body, coding, limit)
    return body


def _inflate_one(body: bytes, coding: str, limit: int) -> bytes:
    """One coding undone. gzip may be several members back to back (RFC 1952: `cat a.gz b.gz`, what some
    streaming compressors write): each is inflated in turn, as gzip.decompress does, all under the one limit."""
    attempts = [_WBITS[coding]] + ([-15] if coding == "deflate" else [])
    for wbits in attempts:
        parts: list[bytes] = []
        rest = body
        while True:
            inflater = zlib.decompressobj(wbits)
            room = limit - sum(map(len, parts)) if limit else 0
            try:
                parts.append(inflater.decompress(rest, room + 1 if limit else 0))
            except zlib.error:
                break
            if limit and (sum(map(len, parts)) > limit or inflater.unconsumed_tail):
                raise ApiError(
                    413,
                    "body_too_large",
                    f"the request body inflates to more than {limit} bytes, over the limit; split the inputs over "
                    "several requests",
                )
            if not inflater.eof:
                break  # truncated stream
            rest = inflater.unused_data
            if wbits != 31 or not rest.strip(b"\0"):  # gzip members follow each other; zero padding ends them
                return b"".join(parts)
        if parts and wbits == 31:
            break  # a later gzip member is not valid gzip: the body is malformed, not another framing
    raise ApiError(400, "malformed_body", f"the request body is not valid {coding} data (Content-Encoding: {coding})")
