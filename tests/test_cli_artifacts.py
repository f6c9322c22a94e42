"""What a user meets on the command line and in the results folder: --version and --log-level, the pruners in
`prune --help`, one line (file, problem, what to do; exit code 2) for every corrupt or truncated artifact given to
`inspect`, `verify` or read by `collect`, `verify`'s differences saying which value is the file's, and result files
that follow the umask."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sparsetopo import __version__, cli
from sparsetopo.io import ArtifactError, write_json, write_parquet


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own exits (--version, --help, usage errors)
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(err: str, command: str, path: Path, problem: str) -> None:
    """The error is one line on stderr, names the file, the problem and the fix, and shows no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sparsetopo {command}: error: {path}: {problem}"), err
    assert "delete it and rerun the workflow, which remakes it" in lines[0] and "Traceback" not in err


# ------------------------------------------------------------------------------------------------- the parser
def test_version_and_log_level(capsys, caplog):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"sparsetopo {__version__}"
    code, _, err = _run(capsys, "--log-level", "chatty", "validate", "x.yaml")
    assert code == 2 and "invalid choice: 'CHATTY'" in err
    assert cli.build_parser().parse_args(["--log-level", "info", "validate", "x.yaml"]).log_level == "INFO"
    assert cli.build_parser().parse_args(["validate", "x.yaml"]).log_level is None  # Python's default: warnings


def test_prune_help_lists_every_pruner_with_its_options(capsys):
    from sparsetopo.pruning import PRUNERS

    code, out, _ = _run(capsys, "prune", "--help")
    assert code == 0
    catalogue = out[out.index("pruners (options go under pruner_options.<name>"):]
    for name in PRUNERS.names():
        assert re.search(rf"^  {name}: ", catalogue, re.M), name
    assert "  snip: SNIP (Lee et al. 2019)" in catalogue and "[reads training data]" in catalogue
    assert "options: power_scale=1.0" in catalogue  # erk's default
    assert "options: zeta=0.3" in catalogue and "[dynamic sparse training]" in catalogue  # set
    assert "exit codes: 0 done" in out


# ------------------------------------------------------------------------------------ corrupt and truncated inputs
@pytest.fixture()
def table(tmp_path) -> Path:
    path = tmp_path / "runs" / "metrics_rolled.parquet"
    write_parquet(path, pl.DataFrame({"dataset": ["digits"] * 3, "model": ["mlp"] * 3, "pruner": ["er"] * 3,
                                      "sparsity": [0.9] * 3, "seed": [0, 1, 2], "layer": ["a", "b", "c"],
                                      "density": [0.1, 0.2, 0.3]}))
    return path


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # overwrite the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle - 20] + b"\xff" * 40 + data[middle + 20:])


@pytest.mark.parametrize("how", ["truncate", "overwrite"])
def test_inspect_and_verify_on_a_corrupt_parquet(table, how, capsys):
    _corrupt(table, how)
    for command in ("inspect", "verify"):
        code, out, err = _run(capsys, command, str(table))
        assert code == 2 and not out
        _one_line_error(err, command, table, "not a readable parquet file")


def test_truncated_npz_masks_and_graph(tmp_path, capsys):
    masks = tmp_path / "masks_per_epoch.npz"
    np.savez_compressed(masks, **{"epoch000/fc1": np.ones((64, 64), bool), "epoch000/fc2": np.zeros((10, 64), bool)})
    graph = tmp_path / "graph_rolled.npz"
    np.savez(graph, count=np.array(1), encoding=np.array("rolled"), run=np.array("{}"),
             **{"g0.src": np.arange(4000, dtype=np.int32)})
    for path in (masks, graph):
        _corrupt(path, "truncate")
    code, out, err = _run(capsys, "inspect", str(masks))
    assert code == 2 and not out
    _one_line_error(err, "inspect", masks, "not a readable .npz archive (BadZipFile")
    code, out, err = _run(capsys, "verify", str(graph))
    assert code == 2 and not out
    _one_line_error(err, "verify", graph, "not a readable .npz archive (BadZipFile")


def test_collect_names_the_bad_input_in_its_log_and_writes_nothing(tmp_path, table):
    """One corrupt metrics file among the inputs of collect: the job fails with an error naming that file, which
    the rule's log says, and no table is written."""
    from sparsetopo.collect import collect_study
    from sparsetopo.logs import log_to

    runs = []
    for seed in (0, 1, 2):
        runs.append(tmp_path / f"train{seed}.json")
        write_json(runs[-1], {"dataset": "digits", "model": "mlp", "pruner": "er", "sparsity": 0.9, "seed": seed,
                              "accuracy": 0.8, "density": 0.1})
    good = tmp_path / "runs" / "other" / "metrics_rolled.parquet"
    write_parquet(good, pl.read_parquet(table))
    _corrupt(table, "overwrite")
    out_dir, log = tmp_path / "tables", tmp_path / "collect.log"
    with pytest.raises(ArtifactError, match=rf"^{re.escape(str(table))}: not a readable parquet file"):
        with log_to(log):
            collect_study(runs, {"rolled": [good, table]}, {"digits": 10}, out_dir, ["runs", "rolled"])
    logged = log.read_text()
    assert f"ArtifactError: {table}: not a readable parquet file" in logged and "delete it and rerun" in logged
    assert not out_dir.exists() or not any(out_dir.iterdir())


# --------------------------------------------------------------------------------------- verify's differences
def test_verify_says_which_value_is_the_files_and_which_is_re_derived(tmp_path, table):
    from sparsetopo.verify import compare

    derived = tmp_path / "derived" / table.name
    write_parquet(derived, pl.read_parquet(table).with_columns(pl.col("density") * 2))
    assert compare(table, derived) == ("metrics_rolled.parquet: column 'density', row 0: the file has 0.1, "
                                       "re-derived 0.2")
    write_parquet(derived, pl.read_parquet(table).drop("layer").with_columns(pl.lit(1).alias("extra")))
    assert compare(table, derived) == ("metrics_rolled.parquet: columns differ; only in the file: ['layer']; "
                                       "only re-derived: ['extra']")
    original, again = tmp_path / "prune.json", tmp_path / "derived" / "prune.json"
    write_json(original, {"density": 0.1, "layers": [1, 2]})
    write_json(again, {"density": 0.1, "layers": [1, 2, 3]})
    assert compare(original, again) == "prune.json/layers: the file has 2 items, re-derived 3"
    write_json(again, {"density": 0.25, "layers": [1, 2]})
    assert compare(original, again) == "prune.json/density: the file has 0.1, re-derived 0.25"


def test_an_artifact_without_provenance_is_refused_with_what_to_do(table, capsys):
    code, out, err = _run(capsys, "verify", str(table))
    assert code == 2 and not out
    assert err.strip() == (f"sparsetopo verify: error: {table}: carries no provenance record (it was not written by "
                           f"a stage of the workflow, or before the stages recorded provenance), so it cannot be "
                           f"re-derived; to verify it, delete it and rerun the workflow, which remakes it with its "
                           f"provenance")
    assert "older version" not in err and "rebuild it" not in err


# ------------------------------------------------------------------------------------------ file permissions
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_results_follow_the_umask(tmp_path, umask):
    """Every writer goes through the atomic writer, whose files get the umask's permissions (0o666 & ~umask, as
    `open` gives), not the private 0o600 of a temporary file."""
    import matplotlib.pyplot as plt

    from sparsetopo.io import save_torch, write_table
    from sparsetopo.plots import save_figure

    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        save_torch(tmp_path / "a.pt", {"x": 1})
        write_table(pl.DataFrame({"x": [1]}), tmp_path / "t")
        fig, ax = plt.subplots()
        save_figure(fig, tmp_path / "f.png")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["a.json", "a.pt", "t.parquet", "t.csv", "t.md", "t.tex", "f.png", "f.pdf"],
                                  0o666 & ~umask)


class Unsafe:
    """An object that a weights-only load refuses."""


def test_untrusted_checkpoint_is_one_plain_line(tmp_path, capsys):
    """torch's refusal message carries terminal colour codes and advice to load unsafely: the error shows
    neither, names the object and says what to do."""
    import torch

    path = tmp_path / "prune.pt"
    torch.save({"state_dict": {}, "masks": {}, "extra": Unsafe()}, path)
    code, out, err = _run(capsys, "inspect", str(path))
    assert code == 2 and not out and "\x1b" not in err and len(err.strip().splitlines()) == 1
    assert err.strip() == (f"sparsetopo inspect: error: {path}: refused to load; it holds more than tensors and plain "
                           f"containers (the object {__name__}.Unsafe), which could run arbitrary code (torch.load "
                           f"with weights_only=True). Only load checkpoints written by sparsetopo: delete this one and "
                           f"rerun the workflow, which remakes it")
