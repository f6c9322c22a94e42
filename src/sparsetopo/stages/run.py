"""One run of the study: dataset × model × pruner × sparsity × seed."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Run:
    """One run of the study: dataset x model x pruner x sparsity x seed."""

    dataset: str
    model: str
    pruner: str
    sparsity: float
    seed: int

    def keys(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def path(self) -> str:
        """Relative folder of the run's artifacts."""
        return f"{self.dataset}/{self.model}/{self.pruner}/s{format_sparsity(self.sparsity)}/seed{self.seed}"


def format_sparsity(sparsity: float) -> str:
    """0.9 -> '0.9', 0.0 -> '0', 0.95 -> '0.95' (the form used in paths)."""
    return f"{float(sparsity):g}"


def run_from(wildcards: Mapping[str, Any]) -> Run:
    """The Run named by a rule's wildcards (or any mapping with the five keys)."""
    return Run(str(wildcards["dataset"]), str(wildcards["model"]), str(wildcards["pruner"]),
               float(wildcards["sparsity"]), int(wildcards["seed"]))


#: The keys an ``exclude`` entry may name, and the config list of each.
GRID_KEYS = {"dataset": "datasets", "model": "models", "pruner": "pruners", "sparsity": "sparsities", "seed": "seeds"}


def exclusion_values(entry: Mapping[str, Any]) -> dict[str, list[Any]]:
    """An ``exclude`` entry with every value as a list."""
    return {key: list(value) if isinstance(value, (list, tuple)) else [value] for key, value in entry.items()}


def sparse_grid(config: Mapping[str, Any]) -> list[Run]:
    """Every sparse run of the study (dataset x model x pruner x sparsity x seed) that no entry of the config's
    ``exclude`` matches (an entry matches a run when each of its keys holds the run's value)."""
    entries = [exclusion_values(e) for e in config.get("exclude") or []]
    runs = [Run(d, m, p, float(s), int(k)) for d, m, p, s, k in itertools.product(
        config["datasets"], config["models"], config["pruners"], config["sparsities"], config["seeds"])]
    return [r for r in runs if not any(all(getattr(r, key) in values for key, values in e.items())
                                       for e in entries)]
