"""Shared fixtures: repository paths, one CPU thread, and the released data of the original studies.

Released data. Tests that read the main paper's released metric tables or the reference NNSTD topologies find
them through ONE environment variable, ``SPARSETOPO_PAPER_DATA``: a folder laid out like

    paper-data/
      mge-snn/graph_data/            graph_metrics/..., ramanunjan_results/... (github.com/eliacunegatti/mge-snn)
      nnstd-topologies/topo/         e5_s0_w{k}/epoch_{e:03d}/weight_l{l}.npz (Sparse_Topology_Distance)

Where the variable is unset (or a part is missing from its folder) the tests use ``tests/fixtures/paper-data``, the
same layout and formats at a small size (see ``tests/fixtures/make_paper_data.py``), so no released-data test is
skipped on a plain clone; with the variable set, the same tests run on the real files and also check the numbers
only the full release has. The pytest header says which source each part comes from.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ENV = "SPARSETOPO_PAPER_DATA"
FIXTURES = ROOT / "tests" / "fixtures" / "paper-data"
GRAPH_DATA = Path("mge-snn") / "graph_data"
TOPO = Path("nnstd-topologies") / "topo"

# test files run side by side on shared cores: one thread each (numba's parallel loops stall when a thread waits for
# a core; tests of thread-count independence set their own counts)
torch.set_num_threads(1)
numba.set_num_threads(1)

#: numbers of the full releases (checked only on the real files) ...
REAL_FACTS: dict[str, Any] = {
    "published_files": 37, "unrolled_rows": 2337, "multipartite_rows": 2290, "layer_rows": 46392,
    "summary_rows": 1975, "models": {"conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"},
    "datasets": {"cifar10", "cifar100", "tinyimagenet"}, "collapsed": 4, "nan_runs": 4,
    "conv6_sparsities": 5, "conv6_pruners": 11, "conv6_cells": 106, "a1_fitted_cells": 10,
    "topo_files": 367, "topo_networks": 10, "topo_epochs": [0, 10, 20, 30, 40, 50, 100, 150, 190],
    "topo_shapes": [(784, 784), (784, 784), (784, 784), (784, 10)], "topo_edges": [3772, None, None, 7840],
    "topo_accuracy_files": 7,
}
#: ... and of the fixtures (tests/fixtures/make_paper_data.py)
FIXTURE_FACTS: dict[str, Any] = {
    "published_files": 16, "unrolled_rows": 42, "multipartite_rows": 40, "layer_rows": 365,
    "summary_rows": 32, "models": {"conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"},
    "datasets": {"cifar10", "cifar100", "tinyimagenet"}, "collapsed": 4, "nan_runs": 4,
    "conv6_sparsities": 2, "conv6_pruners": 3, "conv6_cells": 12, "a1_fitted_cells": 0,
    "topo_files": 87, "topo_networks": 10, "topo_epochs": [0, 10],
    "topo_shapes": [(32, 24), (24, 24), (24, 24), (24, 10)], "topo_edges": [154, 115, 115, 240],
    "topo_accuracy_files": 7,
}


@dataclass(frozen=True)
class PaperData:
    """Where the released tables and the reference topologies come from, and what to expect of them."""

    graph_data: Path
    topo: Path
    tables_real: bool
    topo_real: bool
    tables_facts: dict[str, Any] = field(repr=False)
    topo_facts: dict[str, Any] = field(repr=False)

    def tables_manifest(self) -> dict[str, Any]:
        """The pinned manifest matching ``graph_data`` (the package's for the real files)."""
        from sparsetopo.analysis.published import load_checksums

        return load_checksums() if self.tables_real else _manifest(self.graph_data, "fixture/mge-snn")

    def topo_manifest(self) -> dict[str, Any]:
        """The pinned manifest matching ``topo`` (the package's for the real files)."""
        from sparsetopo.nnstd.reference import load_reference_checksums

        return load_reference_checksums() if self.topo_real else _manifest(self.topo, "fixture/topologies",
                                                                           folder="topo")


def _manifest(path: Path, repository: str, **extra: str) -> dict[str, Any]:
    """A manifest in the format of the pinned ones for the files under ``path``."""
    files = {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(path.rglob("*")) if p.is_file()}
    info = {"repository": repository, "commit": "0" * 40, "base_url": f"https://fixture.invalid/{repository}/",
            "files": files}
    info.update(extra)
    return info


def _resolve() -> PaperData:
    env = os.environ.get(ENV)
    root = Path(env) if env else None
    if root is not None and not root.is_dir():
        raise pytest.UsageError(f"{ENV}={env}: no such folder (it must be laid out like tests/fixtures/paper-data)")
    tables_real = root is not None and (root / GRAPH_DATA / "graph_metrics").is_dir()
    topo_real = root is not None and (root / TOPO / "e5_s0_w0").is_dir()
    return PaperData(graph_data=(root if tables_real else FIXTURES) / GRAPH_DATA,
                     topo=(root if topo_real else FIXTURES) / TOPO, tables_real=tables_real, topo_real=topo_real,
                     tables_facts=REAL_FACTS if tables_real else FIXTURE_FACTS,
                     topo_facts=REAL_FACTS if topo_real else FIXTURE_FACTS)


PAPER_DATA = _resolve()


def pytest_report_header(config) -> list[str]:
    def which(real: bool, path: Path) -> str:
        return f"{path} ({'released files' if real else 'small fixtures'})"

    return [f"paper data ({ENV}): tables {which(PAPER_DATA.tables_real, PAPER_DATA.graph_data)}; "
            f"topologies {which(PAPER_DATA.topo_real, PAPER_DATA.topo)}"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def schema_path() -> Path:
    return ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="session")
def paper_data() -> PaperData:
    """The released tables and reference topologies the tests read (``SPARSETOPO_PAPER_DATA`` or the fixtures)."""
    return PAPER_DATA


@pytest.fixture
def pinned_paper_data(monkeypatch, paper_data) -> PaperData:
    """``paper_data`` with the pinned manifests (sha256 of every file) matching it: the package's own manifests for
    the released files, manifests of the fixture files otherwise."""
    from sparsetopo.analysis import published
    from sparsetopo.nnstd import reference

    tables, topo = paper_data.tables_manifest(), paper_data.topo_manifest()
    monkeypatch.setattr(published, "load_checksums", lambda: tables)
    monkeypatch.setattr(reference, "load_reference_checksums", lambda: topo)
    return paper_data


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder whose ``paper-data`` holds the released tables and topologies the tests read (as ``paper_data``)."""
    root = tmp_path_factory.mktemp("shared")
    for part, target in ((GRAPH_DATA, PAPER_DATA.graph_data), (TOPO, PAPER_DATA.topo)):
        link = root / "paper-data" / part
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def study_config(schema_path) -> dict[str, Any]:
    """A minimal study validated against the schema: every section with its schema defaults filled in."""
    from sparsetopo.config import validate_config

    return validate_config({"study": "unit", "datasets": ["digits"], "models": ["mlp"], "pruners": ["er"],
                            "sparsities": [0.9], "seeds": [0]}, schema_path)
