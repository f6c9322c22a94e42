"""Shared fixtures: repository paths, one CPU thread, the published data when it sits beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schema_path() -> Path:
    return ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    path = Path(os.environ.get("SPARSETOPO_SHARED", ROOT.parent / "shared"))
    return path if path.is_dir() else None
