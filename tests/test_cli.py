"""The command line (`sparsetopo ...`): `metrics` on a graph file of every encoding, and `validate` reading the
schema from its one place, ``sparsetopo.config.SCHEMA_PATH``."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest
import torch
import yaml
from torch import nn

from sparsetopo import cli, config
from sparsetopo.encodings import encode
from sparsetopo.graph import save_graphs
from sparsetopo.metrics import LAYER_KEYS, RAMANUJAN_KEYS, TOPOMETRIC_KEYS
from sparsetopo.models import prunable_layers
from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

INPUT_SHAPE = (1, 6, 6)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny_convnet() -> nn.Module:
    """Two convolutions and a classifier: small graphs in which rolled (kernel positions) and rolled_channel
    (channels) differ."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 6 * 6, 10))


@pytest.fixture(scope="module")
def graph_files(tmp_path_factory) -> dict[str, object]:
    """One graph file per encoding of the same pruned network, and what ``sparsetopo metrics --json`` printed for
    each (exit code, parsed output or the error text)."""
    model = _tiny_convnet()
    ctx = PruneContext(model, 0.5, 0, INPUT_SHAPE, 10)
    apply_masks(model, run_pruner("er", ctx))
    model.eval()
    folder = tmp_path_factory.mktemp("graphs")
    files: dict[str, object] = {"layers": len(prunable_layers(model))}
    for encoding in ("multipartite", "rolled", "rolled_channel"):
        path = folder / f"graph_{encoding}.npz"
        save_graphs(path, encode(model, INPUT_SHAPE, encoding), encoding, run={"model": "tiny"})
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(["metrics", str(path), "--json"])
        files[encoding] = (code, json.loads(out.getvalue()) if code == 0 else err.getvalue())
    return files


def test_metrics_multipartite_file(graph_files):
    code, row = graph_files["multipartite"]
    assert code == 0, row
    assert isinstance(row, dict)
    assert set(TOPOMETRIC_KEYS) <= set(row)
    assert row["nodes"] == 36 + 4 * 36 + 6 * 36 + 10
    assert row["edges"] > 0 and not set(RAMANUJAN_KEYS) & set(row)


@pytest.mark.parametrize("encoding", ["rolled", "rolled_channel"])
def test_metrics_bipartite_files(graph_files, encoding):
    """Both bipartite files give one row per layer with the layer metrics; only rolled files have the
    Ramanujan metrics (before the fix, a rolled_channel file failed: Ramanujan metrics were always asked for)."""
    code, rows = graph_files[encoding]
    assert code == 0, rows
    assert isinstance(rows, list) and len(rows) == graph_files["layers"] == 3
    assert [r["layer_index"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert set(LAYER_KEYS) <= set(r)
        if encoding == "rolled":
            assert set(RAMANUJAN_KEYS) <= set(r)
        else:
            assert not set(RAMANUJAN_KEYS) & set(r)


def test_metrics_bipartite_encodings_differ_on_conv_layers(graph_files):
    """The two bipartite files really are different graphs: the second convolution is 4 x 3 x 3 -> 6 nodes
    rolled (kernel positions), 4 -> 6 rolled_channel (channels)."""
    rolled, channel = graph_files["rolled"][1], graph_files["rolled_channel"][1]
    assert rolled[1]["nodes"] == 4 * 9 + 6 and channel[1]["nodes"] == 4 + 6


def test_metrics_missing_file_is_one_error(tmp_path, capsys):
    code, out, err = _run(capsys, "metrics", str(tmp_path / "absent.npz"))
    assert code == 2 and "graph file not found" in err and not out


# ---------------------------------------------------------------------------------------------------- validate
def _study(tmp_path, **extra) -> str:
    study = {"study": "clitest", "datasets": ["digits"], "models": ["mlp"], "pruners": ["er"],
             "sparsities": [0.9], "seeds": [0], **extra}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return str(path)


def test_validate_accepts_a_valid_config_and_names_the_bad_key(tmp_path, capsys):
    code, out, _ = _run(capsys, "validate", _study(tmp_path))
    assert code == 0 and out.strip().endswith("valid")
    code, _, err = _run(capsys, "validate", _study(tmp_path, training={"epochs": 0}))
    assert code == 2 and "training.epochs" in err


def test_validate_reads_the_schema_from_config_schema_path(tmp_path, monkeypatch, capsys):
    """The CLI finds the schema where the library does (``sparsetopo.config.SCHEMA_PATH``), not through the
    repository layout: pointed at another schema, it obeys that one; pointed at no file, it fails."""
    schema = yaml.safe_load(config.SCHEMA_PATH.read_text())
    schema["properties"]["seeds"]["minItems"] = 2  # a schema that differs from the repository's in one rule
    other = tmp_path / "schema.yaml"
    other.write_text(yaml.safe_dump(schema))
    study = _study(tmp_path)
    assert _run(capsys, "validate", study)[0] == 0
    monkeypatch.setattr(config, "SCHEMA_PATH", other)
    code, _, err = _run(capsys, "validate", study)
    assert code == 2 and "seeds" in err
    monkeypatch.setattr(config, "SCHEMA_PATH", tmp_path / "nowhere.yaml")
    code, _, err = _run(capsys, "validate", study)
    assert code == 2 and "nowhere.yaml" in err
