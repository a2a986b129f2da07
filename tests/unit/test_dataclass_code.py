"""handler.dataclass_code: the methods `dataclasses` generates, compiled once and stored, give the same classes
when a later process runs the stored code instead of compiling the same text; a file from another Python, an
unreadable file or none leaves `dataclasses` as it is.

Each side runs in a fresh interpreter: a class is generated once per process.
"""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from handler import dataclass_code

REPO = Path(__file__).resolve().parents[2]

CLASSES = """
import dataclasses
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()

@dataclass(order=True)
class Box:
    items: list[int] = field(default_factory=lambda: [1, 2])
    name: str = "box"
    hidden: int = field(default=0, repr=False, compare=False)

@dataclass(slots=True, kw_only=True)
class Opt:
    level: int
    note: str | None = None

def behaviour():
    p, q = Point(1), Point(1, 2, ("a",))
    b, c = Box(), Box([3], "c", 9)
    o = Opt(level=3)
    try:
        p.x = 5
        frozen = "mutable"
    except dataclasses.FrozenInstanceError as exc:
        frozen = type(exc).__name__
    try:
        Opt(1)
        positional = "accepted"
    except TypeError as exc:
        positional = str(exc)
    return [repr(p), repr(q), p == Point(1, 2), hash(p) == hash(Point(1)), p == q, repr(b), repr(c), b < c,
            b == Box(hidden=4), repr(o), frozen, positional, Box().items is not Box().items]

def code_of():
    return {cls.__name__ + "." + name: getattr(cls, name).__code__.co_code.hex()
            for cls in (Point, Box, Opt) for name in ("__init__", "__repr__", "__eq__") if name in vars(cls)}
"""

SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {folder!r})
from handler import dataclass_code
mode, path = sys.argv[1], Path(sys.argv[2])
if mode == "record":
    count = dataclass_code.write(path, "probe_classes")
    import probe_classes
    print("OUT" + json.dumps({{"count": count}}))
else:
    load, used = dataclass_code.load, []
    dataclass_code.load = lambda path: used.append(load(path)) or used[-1]
    with dataclass_code.installed(path) as known:
        import probe_classes
    import dataclasses
    stored = used[0]
    outer = [c for code in stored.values() for c in code.co_consts if hasattr(c, "co_consts")]  # __create_fn__
    consts = {{id(c) for code in outer for c in code.co_consts}}  # the methods' code
    # __repr__ is wrapped by dataclasses (recursion guard): its own code is not generated
    inner = {{id(getattr(cls, name).__code__) in consts for cls in (probe_classes.Point, probe_classes.Box)
             for name in ("__init__", "__eq__", "__setattr__") if name in vars(cls)}}
    print("OUT" + json.dumps({{"known": known, "from_store": sorted(inner), "left": "exec" in vars(dataclasses),
                              "behaviour": probe_classes.behaviour(), "code": probe_classes.code_of()}}))
"""


def _run(tmp_path: Path, mode: str, store: Path) -> dict[str, Any]:
    (tmp_path / "probe_classes.py").write_text(CLASSES)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(folder=str(tmp_path)), mode, str(store)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.split("OUT", 1)[1])
    return result


def test_stored_code_gives_the_same_classes(tmp_path: Path) -> None:
    store = tmp_path / "code.marshal"
    recorded = _run(tmp_path, "record", store)
    assert recorded["count"] >= 8  # three classes: __init__, __repr__, __eq__, ordering, frozen setters, ...
    served = _run(tmp_path, "use", store)
    plain = _run(tmp_path, "use", tmp_path / "absent.marshal")
    assert served["known"] == recorded["count"] and plain["known"] == 0
    assert served["from_store"] == [True] and plain["from_store"] == [False]  # the methods' code came from the file
    assert served["left"] is plain["left"] is False  # dataclasses is as it was after the block
    assert served["behaviour"] == plain["behaviour"]
    assert served["behaviour"][10] == "FrozenInstanceError"
    assert served["code"] == plain["code"]


def test_a_file_from_another_python_or_unreadable_is_ignored(tmp_path: Path) -> None:
    codes = {"x = 1\n": compile("x = 1\n", "<string>", "exec")}
    other = tmp_path / "other.marshal"
    other.write_bytes(marshal.dumps((("2.7.18", b"\x03\xf3\r\n"), codes)))
    broken = tmp_path / "broken.marshal"
    broken.write_bytes(b"not marshal data")
    current = tmp_path / "current.marshal"
    current.write_bytes(marshal.dumps((dataclass_code.STAMP, codes)))
    assert dataclass_code.load(other) == dataclass_code.load(broken) == dataclass_code.load(tmp_path / "none") == {}
    assert list(dataclass_code.load(current)) == ["x = 1\n"]


def test_a_text_not_stored_is_compiled_as_before(tmp_path: Path) -> None:
    import dataclasses

    store = tmp_path / "one.marshal"
    store.write_bytes(marshal.dumps((dataclass_code.STAMP, {"y = 2\n": compile("y = 2\n", "<string>", "exec")})))
    with dataclass_code.installed(store) as known:
        assert known == 1 and "exec" in vars(dataclasses)

        @dataclasses.dataclass
        class Fresh:  # a text the store does not hold
            a: int
            b: str = "b"

    assert "exec" not in vars(dataclasses)
    assert repr(Fresh(1)) == "test_a_text_not_stored_is_compiled_as_before.<locals>.Fresh(a=1, b='b')"
    assert Fresh(1) == Fresh(1, "b")


def test_recording_refuses_to_stack(tmp_path: Path) -> None:
    with dataclass_code.recording({}), pytest.raises(RuntimeError), dataclass_code.recording({}):
        pass
