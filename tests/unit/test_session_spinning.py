"""EDGE_THREAD_SPINNING reaches onnxruntime: the setting, SessionConfig.allow_spinning, the session's options."""

from __future__ import annotations

from helpers.toy_handler import settings

from edge_encoders import Embedder, SessionConfig
from handler.loaded_models import load_models
from handler.settings import Settings

KEYS = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")


def _entries(embedder: Embedder) -> list[str]:
    """The session's spinning entries ("" where unset: onnxruntime's default, spinning on)."""
    options = embedder._bundle.session.get_session_options()
    out = []
    for key in KEYS:
        try:
            out.append(options.get_session_config_entry(key))
        except RuntimeError:  # onnxruntime raises for a key that was never set
            out.append("")
    return out


def test_spinning_off_is_set_on_the_session_and_on_by_default() -> None:
    path = settings().embed_bundle
    off = Embedder.from_bundle(path, session_config=SessionConfig(allow_spinning=False), verify=False)
    default = Embedder.from_bundle(path, session_config=SessionConfig(), verify=False)
    assert _entries(off) == ["0", "0"]
    assert "0" not in _entries(default)


def test_the_setting_reaches_the_loaded_models() -> None:
    assert Settings().thread_spinning is True
    assert Settings.from_env({"EDGE_THREAD_SPINNING": "false"}).thread_spinning is False
    models = load_models(settings(thread_spinning=False, rerank_bundle="", warmup=False))
    assert models.embedder is not None
    assert _entries(models.embedder) == ["0", "0"]
