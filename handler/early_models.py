"""Load the bundles in a background thread that starts with the process, while the main thread imports FastAPI
and the routes.

Why: a Lambda INIT used to import everything (~430 ms) and only then load the bundles (~150 ms). Creating an
onnxruntime session and running the warm-up inference are native code that releases the GIL, so with more than
one vCPU (MemorySize above 1,769 MB) they run beside the imports instead of after them. On one vCPU the two
simply take turns: no gain, no loss beyond a few thread switches.

Nothing here is imported at module level beyond the standard library: the thread itself imports the runtime
(numpy, onnxruntime, tokenizers) and the settings, so that work starts at once instead of delaying the start.
The result is exactly what `create_app()` would load itself: the same settings (read once from the environment),
the same logging setup before the first load, the same `load_models`. A configuration error is left to
`create_app()` to report as it always has; anything else the load raises is raised again, unchanged, where the
caller collects the result, so the INIT fails with the same error as without the thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handler.loaded_models import Models
    from handler.settings import Settings

Loaded = tuple["Settings", "Models"]


def load_from_env() -> Loaded | None:
    """Settings from EDGE_*, logging set up, every configured bundle loaded; None on a configuration error
    (create_app() reads the environment again and answers it with its config_error state)."""
    from handler.loaded_models import load_models
    from handler.observability import setup_logging
    from handler.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError:
        return None
    setup_logging(settings.log_level)
    return settings, load_models(settings)


class EarlyModels:
    """One background load, started at once; `result()` waits for it and hands it over (or raises its error)."""

    def __init__(self, load: Callable[[], Loaded | None] = load_from_env) -> None:
        self._load = load
        self._loaded: Loaded | None = None
        self._error: BaseException | None = None
        self.load_ms = 0.0  # the background load's own duration
        self.wait_ms = 0.0  # how long result() waited for it: what the overlap did not hide
        # daemon: a process whose main thread fails (an import error) exits without waiting for the load
        self._thread = threading.Thread(target=self._run, name="edge-early-models", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self._loaded = self._load()
        except BaseException as exc:  # handed to the caller of result(), which raises it in the main thread
            self._error = exc
        finally:
            self.load_ms = (time.perf_counter() - started) * 1000

    def result(self) -> Loaded | None:
        """The loaded settings and models (None: read the settings the usual way); re-raises the load's error."""
        started = time.perf_counter()
        self._thread.join()
        self.wait_ms = (time.perf_counter() - started) * 1000
        if self._error is not None:
            raise self._error
        return self._loaded
