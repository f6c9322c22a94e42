"""The one logging helper of the workflow scripts: the library's log records go to the rule's log file."""

from __future__ import annotations

import logging
import os
from pathlib import Path


class log_to:
    """Context manager: send the library's log records to ``path`` (one line per record); an exception is
    logged with its message before it propagates, so that the rule's log says why the job failed."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = path
        self.handler: logging.Handler | None = None

    def __enter__(self) -> "log_to":
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        if self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.handler = logging.FileHandler(self.path, mode="w")
        else:
            self.handler = logging.StreamHandler()
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(self.handler)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None:
            logging.getLogger("sparsetopo").error("%s: %s", exc_type.__name__, exc)
        assert self.handler is not None
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        return False
