"""Cold start probe: `python -m bench.cold SPEC THREADS`: import, load, embed (or rerank) once.

Prints one JSON line of wall-clock epoch times (time.time()) at: probe start, imports done, model loaded,
first result; the parent subtracts the moment it spawned
this process, so interpreter start-up and imports are included.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    threads = int(argv[1])
    import importlib

    from bench.systems import IMPORTS, make_system

    t_start = time.time()
    for module in IMPORTS[spec["type"]]:
        importlib.import_module(module)
    t_imported = time.time()
    system = make_system(spec, threads)
    system.load()
    t_loaded = time.time()
    if spec["type"] in ("edge-rerank", "ce-torch"):
        system.rerank("what is onnx?", ["ONNX is an open format for machine learning models."])
    else:
        system.embed(["ONNX is an open format for machine learning models."], 1)
    t_first = time.time()
    print(json.dumps({"t_start": t_start, "t_imported": t_imported, "t_loaded": t_loaded, "t_first": t_first}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
