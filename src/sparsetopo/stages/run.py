"""One run of the study: dataset × model × pruner × sparsity × seed."""

from __future__ import annotations

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
