"""Run inside the Lambda image (stdin of `python3 -`): a cold start's imports (the runtime client, the entry point,
the handler built), then every module loaded from a .py file checked for bytecode that Python will use as it is.

A module without a current .pyc is compiled at every cold start: the root is read-only, so nothing is kept.
Prints one JSON object: how many modules were checked and the ones that would be compiled.
"""

import importlib.machinery
import importlib.util
import json
import os
import sys

import awslambdaric.bootstrap  # noqa: F401  (what the image's bootstrap imports before the handler)

import handler.lambda_main as entry

entry.handler  # noqa: B018  (built as the runtime resolves it: models, app)


def stale(source: str) -> str | None:
    """Why this source's bytecode would not be used (None when it would)."""
    cached = importlib.util.cache_from_source(source)
    try:
        with open(cached, "rb") as pyc:
            header = pyc.read(16)
    except OSError:
        return "no .pyc"
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return "another Python's .pyc"
    if int.from_bytes(header[4:8], "little") & 1:  # hash-based: valid whatever the timestamps say
        return None
    st = os.stat(source)
    mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
    if (mtime, size) != (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF):
        return "stale .pyc (source mtime or size differs)"
    return None


checked, compiled = 0, {}
for name, module in list(sys.modules.items()):
    spec = getattr(module, "__spec__", None)
    if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
        continue  # built-in, frozen, extension or namespace module: no bytecode of its own
    checked += 1
    reason = stale(spec.origin)
    if reason:
        compiled[name] = f"{spec.origin}: {reason}"
print(json.dumps({"checked": checked, "compiled_at_start": compiled}))
