"""The configuration schema: the one place where every key of a study and its default are defined.

Kept free of other imports so that any stage can read defaults from it without its code fingerprint
(:mod:`sparsetopo.provenance`) taking in the rest of the library.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

#: package data, so that an installed (not editable) library finds it; workflow/schemas/config.schema.yaml links here
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The configuration schema (a fresh copy)."""
    return copy.deepcopy(_load(str(path or SCHEMA_PATH)))


def apply_defaults(schema: Mapping[str, Any], cfg: dict[str, Any]) -> None:
    """Fill the defaults of ``schema`` into ``cfg`` in place, recursively into sections that are present."""
    for key, sub in schema.get("properties", {}).items():
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if isinstance(cfg.get(key), dict) and sub.get("type") == "object":
            apply_defaults(sub, cfg[key])


def section_defaults(section: str) -> dict[str, Any]:
    """The default of every key of one top-level section of the configuration."""
    out: dict[str, Any] = {}
    apply_defaults(load_schema()["properties"][section], out)
    return out
