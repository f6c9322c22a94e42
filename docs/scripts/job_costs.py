"""What each graph of a study cost: per run, the multipartite graph's edges, the method that measured its
topometrics (explicit or implicit), and the prune and metrics jobs' wall seconds, CPU seconds, peak memory and
mean load, from Snakemake's benchmark files (logs/<study>/benchmarks) and the runs' metrics.json.

Usage: .venv/bin/python docs/scripts/job_costs.py STUDY [--root DIR] [--header]

Prints a Markdown table, largest graph first, and the totals; DIR is the workflow's working directory (default:
the repository). ``--header`` prints the same figures as YAML comment lines, a line per model and pruner with a
cell per sparsity, the form the ImageNet study's config header quotes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def benchmark(path: Path) -> dict[str, float]:
    """The last row of a Snakemake benchmark file (s, cpu_time, max_rss in MB, mean_load: the CPU use in %), or {}
    if absent."""
    if not path.is_file():
        return {}
    rows = list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))
    return {k: float(rows[-1][k]) for k in ("s", "cpu_time", "max_rss", "mean_load")} if rows else {}


def print_header(rows: list[dict]) -> None:
    """Comment lines: per model and pruner, per sparsity the edges, the path (E explicit, I implicit), the prune and
    metrics jobs' wall seconds and the metrics job's peak memory."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        _, model, pruner, sparsity, _ = r["run"].parts
        p, m = r["prune"], r["metrics"]
        edges = f"{r['edges']:.1e}".replace("e+0", "e")
        cells.setdefault((model, pruner), {})[sparsity[1:]] = (
            f"{edges} {r['method'][0].upper()} {p.get('s', float('nan')):.0f}+{m.get('s', float('nan')):.0f} s "
            f"{m.get('max_rss', float('nan')) / 1024:.1f}G")
    sparsities = sorted({s for c in cells.values() for s in c}, key=float)
    print("#   " + f"{'':<13}{'':<10}" + "".join(f"{s:<26}" for s in sparsities).rstrip())
    for (model, pruner), by_sparsity in cells.items():
        row = "".join(f"{by_sparsity.get(s, '-'):<26}" for s in sparsities)
        print("#   " + f"{model:<13}{pruner:<10}" + row.rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--header", action="store_true", help="YAML comment lines instead of a Markdown table")
    args = parser.parse_args()
    runs = args.root / "results" / args.study / "runs"
    bench = args.root / "logs" / args.study / "benchmarks"
    rows = []
    for path in sorted(runs.glob("*/*/*/s*/seed*/metrics.json")):
        record = json.loads(path.read_text())
        run = path.parent.relative_to(runs)
        measured = record.get("multipartite_metrics", {})
        rows.append({"run": run, "edges": measured.get("raw_edges", float("nan")),
                     "method": measured.get("method", "-"),
                     "prune": benchmark(bench / "prune" / f"{run}.tsv"),
                     "metrics": benchmark(bench / "metrics" / f"{run}.tsv")})
    if args.header:
        print_header(rows)
        return
    rows.sort(key=lambda r: -r["edges"])
    print("| model | pruner | sparsity | edges | method | prune s (CPU s) | metrics s (CPU s) | metrics peak RSS GiB "
          "| metrics CPU use % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        _, model, pruner, sparsity, _ = r["run"].parts
        p, m = r["prune"], r["metrics"]
        print(f"| {model} | {pruner} | {sparsity[1:]} | {r['edges']:.3g} | {r['method']} | "
              f"{p.get('s', float('nan')):.0f} ({p.get('cpu_time', float('nan')):.0f}) | "
              f"{m.get('s', float('nan')):.0f} ({m.get('cpu_time', float('nan')):.0f}) | "
              f"{m.get('max_rss', float('nan')) / 1024:.2f} | {m.get('mean_load', float('nan')):.0f} |")
    total = {stage: (sum(r[stage].get("s", 0.0) for r in rows), sum(r[stage].get("cpu_time", 0.0) for r in rows))
             for stage in ("prune", "metrics")}
    peak = max((r["metrics"].get("max_rss", 0.0) for r in rows), default=0.0) / 1024
    print(f"\n{len(rows)} graphs; prune jobs {total['prune'][0]:.0f} s ({total['prune'][1]:.0f} CPU s), metrics jobs "
          f"{total['metrics'][0]:.0f} s ({total['metrics'][1]:.0f} CPU s); largest peak RSS of a metrics job "
          f"{peak:.2f} GiB")


if __name__ == "__main__":
    main()
