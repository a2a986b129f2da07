"""The bodies the routes only send are built at their first use, not at import (handler.schemas' SENT), and
handler.sent_bodies builds them all when an ASGI server (uvicorn's thread pool) asks handler.app for `app`.

Import state is checked in a fresh interpreter: this pytest process has long built them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.toy_handler import bundle_paths
from pydantic import RootModel, ValidationError

from handler import schemas_tei
from handler.schemas import EmbedResponse

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
import handler.app
from handler import sent_bodies
from handler.schemas import EmbedResponse, Usage
before = sorted(m.__name__ for m in sent_bodies.deferred())
made = EmbedResponse(
    model="m", dimensions=2, precision="float32", encoding_format="float", embeddings=[[1.0, 2.0]],
    usage=Usage(prompt_tokens=1, total_tokens=1),
).model_dump_json()
after_one = sorted(m.__name__ for m in sent_bodies.deferred())
built = sent_bodies.build()
print("PROBE" + json.dumps({"before": before, "made": made, "after_one": after_one, "built": built,
                            "left": len(sent_bodies.deferred())}))
"""


def _probe() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.split("PROBE", 1)[1])
    return result


def test_sent_bodies_wait_for_their_first_use() -> None:
    found = _probe()
    before = set(found["before"])
    # what the routes only send, and the error bodies (only documented)
    assert {"EmbedResponse", "Usage", "CompatRerankResponse", "CohereByTypeResponse", "TeiInfo"} <= before
    assert {"TokenizeResponse", "SimpleToken", "ErrorBody", "ErrorDetail", "TeiError"} <= before
    # request bodies (FastAPI builds their fields) and what routes return as models (response_model=) are not
    assert before.isdisjoint(
        {"EmbedRequest", "TeiEmbedRequest", "CohereEmbedRequest", "HealthResponse", "InfoResponse"}
    )
    # the first one made builds that model (and the one inside it), with the same JSON as a built model gives
    assert set(found["after_one"]) == before - {"EmbedResponse", "Usage"}
    expected = EmbedResponse.model_validate_json(found["made"]).model_dump_json()
    assert found["made"] == expected
    assert found["built"] == len(before) - 2 and found["left"] == 0


SERVER = """
import json
import handler.app
from handler import sent_bodies
deferred = len(sent_bodies.deferred())
handler.app.handler  # what the Lambda runtime asks for: they wait for their first use
after_handler = len(sent_bodies.deferred())
handler.app.app  # what uvicorn asks for before it serves from its thread pool
print("PROBE" + json.dumps([deferred, after_handler, len(sent_bodies.deferred())]))
"""


def test_an_asgi_server_gets_them_built() -> None:
    embed, rerank = bundle_paths()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDGE_")},
        "EDGE_EMBED_BUNDLE": str(embed),
        "EDGE_RERANK_BUNDLE": str(rerank),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SERVER], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    deferred, after_handler, after_app = json.loads(proc.stdout.split("PROBE", 1)[1])
    assert deferred == after_handler >= 25 and after_app == 0


ROOT_SAMPLES: list[Any] = [
    [[1.0, 2]],
    [[[0.5], [1]]],
    [0.25, 1],
    ["a", "b"],
    [[1, 2], [3]],
    [{"index": 0, "score": 1.5}, {"index": 1, "text": "t", "score": 0}],
    [[{"id": 1, "text": "a", "special": False, "start": 0, "stop": 1}]],
    [[{"id": 1, "text": "a", "special": False, "start": None}]],
    [["x"]],
    [[True]],
    "text",
    None,
    [],
]


def _outcome(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value).model_dump_json()
    except ValidationError as exc:
        return exc.errors(include_url=False)


def test_bare_array_responses_are_the_parametrized_root_models() -> None:
    """`RootModel[Any]` with `root` declared: the same schema and validation as `RootModel[<root type>]`."""
    roots = [m for m in vars(schemas_tei).values() if isinstance(m, type) and issubclass(m, RootModel)]
    assert len(roots) >= 6
    for model in roots:
        if model is RootModel:
            continue
        annotation = model.model_fields["root"].annotation
        reference: Any = type(model.__name__, (RootModel[annotation],), {"__doc__": model.__doc__})  # type: ignore[valid-type]
        for mode in ("validation", "serialization"):
            assert model.model_json_schema(mode=mode) == reference.model_json_schema(mode=mode), model
        for value in ROOT_SAMPLES:
            assert _outcome(model, value) == _outcome(reference, value), (model, value)
