"""Command line: inspect or rebuild one artifact outside the workflow.

    sparsetopo validate CONFIG.yaml
    sparsetopo data mnist5k --out data.npz
    sparsetopo prune --model resnet20 --dataset cifar10 --pruner synflow --sparsity 0.9 --seed 0 --json
    sparsetopo graph-summary --model resnet20 --dataset cifar10 --pruner erk --sparsity 0.9 --seed 0 \
        --encoding multipartite [--weights init|PATH] [--out graph.npz] --json
    sparsetopo metrics GRAPH.npz --json
    sparsetopo metrics --model resnet50 --dataset imagenet --pruner erk --sparsity 0.9 --seed 0 --json
    sparsetopo nnstd DIR_A DIR_B --json
    sparsetopo inspect ARTIFACT [--json]
    sparsetopo verify ARTIFACT [--force] | sparsetopo verify --sample 5 results/STUDY [--out audit.md]

Exit codes: 0 done (for verify: every artifact identical); 1 verify found a difference or could not re-derive an
artifact; 2 an error (bad arguments, configuration, name or artifact), said in one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return obj


def _print(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_jsonable(obj), indent=2, sort_keys=False))
    else:
        for key, value in obj.items() if isinstance(obj, dict) else enumerate(obj):
            print(f"{key}: {value}")


def _config(path: str | None) -> dict[str, Any]:
    import yaml

    if not path:
        return {"dataset_options": {}, "model_options": {}, "pruner_options": {}, "training": {"threads": None}}
    return yaml.safe_load(Path(path).read_text())


EXIT_CODES = ("exit codes: 0 done (verify: every artifact identical); 1 verify found a difference or could not "
              "re-derive an artifact; 2 an error (bad arguments, configuration, name or artifact), said in one line "
              "on stderr")


class _Parser(argparse.ArgumentParser):
    """argparse with an epilog made when the help is shown (``epilog_fn``), so that listing the pruners imports
    the library only for ``--help``."""

    def __init__(self, *args: Any, epilog_fn: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_fn = epilog_fn

    def format_help(self) -> str:
        if self.epilog_fn is not None:
            self.epilog = self.epilog_fn()
        return super().format_help()


def pruner_catalogue() -> str:
    """The registered pruners for ``--help``: name, what it is, whether it reads data or trains dynamically, and
    its options with their defaults (set them under ``pruner_options.<name>`` of a config, used with --config)."""
    from .pruning import PRUNERS

    lines = ["pruners (options go under pruner_options.<name> of the --config file; defaults shown):"]
    for name in PRUNERS.names():
        pruner = PRUNERS.get(name)
        kind = ", ".join(k for k, on in (("reads training data", pruner.needs_data),
                                          ("dynamic sparse training", pruner.dynamic is not None)) if on)
        about = " ".join((pruner.prune.__doc__ or pruner.description or name).split("\n\n")[0].split())
        head = f"  {name}: {about}" + (f" [{kind}]" if kind else "")
        lines += textwrap.wrap(head, 116, subsequent_indent="      ")
        if pruner.defaults:
            options = ", ".join(f"{k}={v!r}" for k, v in pruner.defaults.items())
            lines += textwrap.wrap(f"options: {options}", 116, initial_indent="      ", subsequent_indent="        ")
    return "\n".join(lines)


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="architecture, e.g. resnet20, conv6, mlp (a wrong name lists all)")
    p.add_argument("--dataset", required=True, help="fixes input shape and classes, e.g. cifar10, mnist5k, digits")
    p.add_argument("--pruner", required=True, help="one of the pruners listed below")
    p.add_argument("--sparsity", type=float, required=True, help="fraction of prunable weights removed, in [0, 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of the pruner (default 0)")
    p.add_argument("--config", help="YAML config whose dataset_options, model_options, pruner_options and "
                                    "data_root are used")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _check_names(args) -> None:
    from .data import DATASETS
    from .models import MODELS
    from .pruning import PRUNERS

    DATASETS.get(args.dataset)
    MODELS.get(args.model)
    PRUNERS.get(args.pruner)
    if not 0 <= args.sparsity < 1:
        raise ValueError(f"--sparsity {args.sparsity} is outside [0, 1)")


def _prune(args, cfg: dict[str, Any], workdir: Path) -> tuple[Any, dict[str, Any], Path]:
    """Prune one run into ``workdir``; returns (run, summary, checkpoint path)."""
    from .data import dataset_info
    from .stages.data import materialise_data
    from .stages.run import Run
    from .stages.train import prune_run
    from .pruning import PRUNERS

    _check_names(args)
    run = Run(args.dataset, args.model, args.pruner, args.sparsity, args.seed)
    data_path = None
    info = dataset_info(args.dataset, cfg.get("dataset_options", {}).get(args.dataset))
    if PRUNERS.get(args.pruner).needs_data and info.embedded:
        data_path = workdir / f"{args.dataset}.npz"
        materialise_data(cfg, args.dataset, str(data_path), str(workdir / f"{args.dataset}.json"))
    pt = workdir / "prune.pt"
    summary = prune_run(cfg, run, str(data_path) if data_path else None, str(pt), str(workdir / "prune.json"))
    return run, summary, pt


def _run_model(args, cfg: dict[str, Any]):
    """(run, model in eval mode) of the CLI's run arguments: pruned here at initialisation (``--weights`` absent or
    ``init``), or loaded from a weights file."""
    from .stages.common import build_initial_model, load_checkpoint
    from .stages.run import Run

    with tempfile.TemporaryDirectory() as tmp:
        if args.weights in (None, "init"):
            run, _, pt = _prune(args, cfg, Path(tmp))
        else:
            _check_names(args)
            run, pt = Run(args.dataset, args.model, args.pruner, args.sparsity, args.seed), Path(args.weights)
        model = build_initial_model(cfg, run)
        load_checkpoint(pt, model)
    return run, model.eval()


def cmd_prune(args) -> int:
    cfg = _config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        _, summary, _ = _prune(args, cfg, Path(tmp))
    _print({k: summary[k] for k in ("model", "dataset", "pruner", "sparsity", "seed", "density", "kept", "prunable",
                                    "layers", "seconds")}, args.json)
    return 0


def cmd_graph_summary(args) -> int:
    from .encodings import encode
    from .graph import save_graphs
    from .stages.common import dataset_info_for

    cfg = _config(args.config)
    run, model = _run_model(args, cfg)
    start = time.perf_counter()
    graphs = encode(model, dataset_info_for(cfg, run.dataset).input_shape, args.encoding,
                    identity_shortcuts=args.identity_shortcuts)
    seconds = time.perf_counter() - start
    if args.out:
        save_graphs(args.out, graphs, args.encoding, run=run.keys())
    if args.encoding == "multipartite":
        summary = graphs[0].summary()
    else:
        summary = {"nodes": sum(g.num_nodes for g in graphs), "edges": sum(g.num_edges for g in graphs),
                   "parts": [p for g in graphs for p in g.summary()["parts"]],
                   "layers": [g.summary() for g in graphs]}
    _print({"encoding": args.encoding, **run.keys(), **summary, "seconds": seconds}, args.json)
    return 0


def _graph_encoding(path: str) -> str | None:
    """The encoding recorded in a graph file, or None when the file cannot tell (``graph_file_metrics`` then
    reports what is wrong with it)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["encoding"])
    except Exception:
        return None


def cmd_metrics(args) -> int:
    """Every metric the file's encoding has: topometrics (multipartite), per-layer metrics (rolled,
    rolled_channel), plus the Ramanujan metrics, which are defined on rolled files only. With --model (and no
    file): the topometrics of that pruned network, measured without writing a graph file (explicit or implicit
    path), with the method and the seconds. Progress goes to stderr, one line per step."""
    _progress_to_stderr()
    run_keys = ("model", "dataset", "pruner", "sparsity")
    given = [k for k in run_keys if getattr(args, k) is not None]
    if args.graph is not None:
        if given:
            raise ValueError("give either a graph file or --model/--dataset/--pruner/--sparsity, not both")
        from .metrics import graph_file_metrics

        ramanujan = _graph_encoding(args.graph) == "rolled"
        seed = args.seed if args.metrics_seed is None else args.metrics_seed
        _print(graph_file_metrics(args.graph, seed=seed, ramanujan=ramanujan), args.json)
        return 0
    if len(given) < len(run_keys):
        missing = ", ".join(f"--{k}" for k in run_keys if k not in given)
        raise ValueError(f"give a graph file, or a network with --model, --dataset, --pruner and --sparsity "
                         f"(missing: {missing})")
    _print(_network_metrics(args), args.json)
    return 0


def _progress_to_stderr() -> None:
    """Log the library's progress (logger ``sparsetopo``, INFO) to stderr unless logging is configured already."""
    import logging

    logger = logging.getLogger("sparsetopo")
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _network_metrics(args) -> dict[str, Any]:
    import logging

    from .metrics import normalised
    from .metrics.implicit import network_topometrics
    from .stages.common import dataset_info_for

    cfg = _config(args.config)
    mcfg = cfg.get("metrics", {}) or {}
    start = time.perf_counter()
    run, model = _run_model(args, cfg)
    logging.getLogger("sparsetopo.metrics").info("%s pruned in %.1f s", run.path, time.perf_counter() - start)
    seed = int(mcfg.get("seed", 0)) if args.metrics_seed is None else args.metrics_seed
    values, info = network_topometrics(
        model, dataset_info_for(cfg, run.dataset).input_shape, seed=seed,
        motifs4=args.motifs4 or mcfg.get("motifs4", "auto"),
        motif_budget_seconds=args.motif_budget_seconds or float(mcfg.get("motif_budget_seconds", 5.0)),
        method=args.method, identity_shortcuts=args.identity_shortcuts, device=args.device)
    return {**run.keys(), "method": info["method"], "raw_edges": info["raw_edges"], "seconds": info["seconds"],
            **values, **normalised(values)}


def cmd_nnstd(args) -> int:
    from .nnstd import cli_nnstd

    _print(cli_nnstd(args.a, args.b), args.json)
    return 0


def cmd_data(args) -> int:
    from .stages.data import materialise_data

    out = Path(args.out)
    manifest = materialise_data(_config(args.config), args.dataset, str(out), str(out.with_suffix(".json")))
    _print(manifest, args.json)
    return 0


def cmd_validate(args) -> int:
    import yaml

    from . import config

    # the schema's one location is sparsetopo.config.SCHEMA_PATH (read at call time, never a path of our own)
    config.validate_config(yaml.safe_load(Path(args.config).read_text()), config.SCHEMA_PATH, base_dir=Path.cwd())
    print(f"{args.config}: valid")
    return 0


def cmd_inspect(args) -> int:
    from .artifacts import describe, inspect

    info = inspect(args.path)
    if args.json:
        print(json.dumps(_jsonable(info), indent=2, sort_keys=True))
    else:
        print(describe(info))
    return 0


def cmd_verify(args) -> int:
    from .verify import audit, verify

    if args.sample is not None:
        verdicts = audit(args.path, args.sample, seed=args.seed, force=args.force, out=args.out)
    else:
        verdicts = [verify(args.path, force=args.force)]
    if args.json:
        print(json.dumps([v.__dict__ for v in verdicts], indent=2))
    else:
        for v in verdicts:
            print(f"{v.path} ({v.stage}): {v.result}")
    return 0 if all(v.identical for v in verdicts) else 1


def cmd_power(args) -> int:
    """Expected half-width of every primary comparison of a study and the clusters it needs, from a pilot."""
    import yaml

    from . import config
    from .analysis.power import study_power

    raw = config.merge_configs(*(yaml.safe_load(Path(path).read_text()) for path in args.config))
    cfg = config.validate_config(raw, config.SCHEMA_PATH, base_dir=Path.cwd())
    pilot = Path(args.pilot or f"results/{cfg['study']}/tables")
    table = study_power(cfg, pilot)
    if args.json:
        print(json.dumps(table.to_dicts(), indent=2))
        return 0
    print(f"{' + '.join(args.config)}: power of the primary comparisons, projected from the pilot {pilot}")
    for r in table.iter_rows(named=True):
        need = r["clusters_needed"] if r["clusters_needed"] is not None else "more than 100,000"
        print(f"  {r['claim']} {r['key']}: pilot ±{r['pilot_half_width']:.3f} with {r['pilot_clusters']} clusters; "
              f"expected ±{r['expected_half_width']:.3f} with the study's {r['planned_clusters']}; "
              f"±{r['target_half_width']:g} needs {need} -> {'decidable' if r['decidable'] else 'underpowered'}")
    return 0


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="sparsetopo", description=__doc__.split("\n\n")[0], epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"sparsetopo {__version__}")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS,
                        help="show the library's log messages of this level and above on stderr (default: warnings, "
                             "and the progress of metrics; INFO shows what the stages log as they go, e.g. each "
                             "epoch when verify re-derives a train.pt)")
    sub = parser.add_subparsers(dest="command", required=True)
    run_help = dict(formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog_fn=lambda: pruner_catalogue() + "\n\n" + "\n".join(textwrap.wrap(EXIT_CODES, 116)))
    p = sub.add_parser("prune", help="prune one network at initialisation and print its layer densities",
                       **run_help)
    _run_args(p)
    p.set_defaults(func=cmd_prune)
    p = sub.add_parser("graph-summary", help="encode one network as a graph and print its size", **run_help)
    _run_args(p)
    p.add_argument("--encoding", required=True, choices=["multipartite", "rolled", "rolled_channel"])
    p.add_argument("--weights", default="init", help="'init' (prune now) or a prune.pt/train.pt checkpoint")
    p.add_argument("--identity-shortcuts", action="store_true", help="encode identity shortcuts as weight-1 edges")
    p.add_argument("--out", help="also save the graph file (.npz)")
    p.set_defaults(func=cmd_graph_summary)
    p = sub.add_parser("metrics", help="all metrics of one graph file, or the topometrics of one pruned network",
                       description=cmd_metrics.__doc__)
    p.add_argument("graph", nargs="?", help="a graph file (.npz) of any encoding; or leave out and give --model ...")
    p.add_argument("--model", help="a registered model: measure this pruned network (no graph file is written)")
    p.add_argument("--dataset", help="with --model: the dataset, which sets the input shape and classes")
    p.add_argument("--pruner", help="with --model: the pruner that makes the masks")
    p.add_argument("--sparsity", type=float, help="with --model: the fraction of prunable weights removed, in [0, 1)")
    p.add_argument("--seed", type=int, default=0, help="with --model: the run's seed (masks and initial weights); "
                   "with a graph file: the seed of the metrics")
    p.add_argument("--metrics-seed", type=int, help="seed of the metrics (Lanczos start vector, motif draws); "
                   "default: the config's metrics.seed, else 0 (with a graph file: --seed)")
    p.add_argument("--weights", default="init", help="with --model: 'init' (prune now; initial weights) or a "
                   "prune.pt/train.pt checkpoint")
    p.add_argument("--method", default="auto", choices=["auto", "explicit", "implicit"],
                   help="with --model: the graph in memory (explicit), kept implicit, or chosen by the edge count "
                   "(auto: implicit from sparsetopo.metrics.implicit.IMPLICIT_MIN_EDGES edges)")
    p.add_argument("--motifs4", choices=["auto", "exact", "estimate"],
                   help="with --model: exact 4-node motif count or estimate (default: the config's, else auto)")
    p.add_argument("--motif-budget-seconds", type=float,
                   help="with --model: time budget that decides motifs4=auto (default: the config's, else 5)")
    p.add_argument("--identity-shortcuts", action="store_true", help="with --model: encode identity shortcuts as "
                   "weight-1 edges")
    p.add_argument("--device", default="cpu", help="with --model and the implicit path: where the products of the "
                   "eigenvalue iterations run (cpu, cuda)")
    p.add_argument("--config", help="YAML config whose dataset/model/pruner/metrics options and data_root are used")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list for bipartite files)")
    p.set_defaults(func=cmd_metrics)
    p = sub.add_parser("nnstd", help="topology distance between two networks (mask folders or files)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_nnstd)
    p = sub.add_parser("data", help="materialise an embedded dataset (or check an external one)")
    p.add_argument("dataset")
    p.add_argument("--out", required=True)
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data)
    p = sub.add_parser("validate", help="validate a study configuration")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("inspect", help="summary and provenance of any artifact (.pt, graph .npz, .parquet, .json)")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("power", help="expected half-width of each primary comparison of a study, and the "
                                     "independent clusters it needs, projected from a pilot run")
    p.add_argument("config", nargs="+", help="the study's configuration (YAML; several files are merged as "
                                             "Snakemake merges --configfile, later over earlier)")
    p.add_argument("--pilot", help="tables folder of a pilot run of the same design, or the released tables' "
                                   "(default: results/<study>/tables of an earlier run of this study)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_power)
    p = sub.add_parser("verify", help="re-derive an artifact from its recorded inputs and config, and compare")
    p.add_argument("path", help="an artifact, or with --sample the study folder results/<study>")
    p.add_argument("--sample", type=int, help="verify a seeded random sample of this many artifacts of the study")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--out", help="with --sample: write the audit (Markdown) here")
    p.add_argument("--force", action="store_true", help="re-derive even if the installed code differs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging

    if args.log_level:  # otherwise Python's default (warnings on stderr), and metrics' own progress lines
        logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    from .config import ConfigError
    from .data import DatasetError
    from .io import ArtifactError
    from .registry import UnknownNameError
    from .verify import VerifyError

    try:
        return args.func(args)
    except (ConfigError, DatasetError, ArtifactError, UnknownNameError, ValueError, FileNotFoundError,
            VerifyError) as exc:
        print(f"sparsetopo {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
