"""The training settings of a run: the configuration's ``training`` section resolved for one (dataset, model)
(:func:`training_for`) and the optimiser and schedule the training loop reads (:class:`TrainSettings`).

The defaults live in one place, the schema (``src/sparsetopo/schemas/config.schema.yaml``, section ``training``):
both read them from there. Free of torch and of the rest of the library, so that the stages that only read the
configuration (``sparsetopo.stages.params``) do not take the training code into their code fingerprint.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from .schema import section_defaults


@functools.lru_cache(maxsize=1)
def _schema_defaults() -> dict[str, Any]:
    return section_defaults("training")


def _schema_default(key: str):
    """A dataclass field whose default is the schema's default of ``training.<key>``."""
    return field(default_factory=lambda: _schema_defaults()[key])


@dataclass(kw_only=True)
class TrainSettings:
    """Optimiser and schedule of one training (SGD with momentum and weight decay; the learning rate is multiplied
    by ``gamma`` after each milestone, given as fractions of ``epochs``). A field left out takes the schema's
    default of the ``training`` section; weight decay has none there (null: per model, :func:`dense_weight_decay`),
    so it is always given."""

    weight_decay: float
    epochs: int = _schema_default("epochs")
    lr: float = _schema_default("lr")
    momentum: float = _schema_default("momentum")
    milestones: tuple[float, ...] = field(default_factory=lambda: tuple(_schema_defaults()["milestones"]))
    gamma: float = _schema_default("gamma")
    batch_size: int = _schema_default("batch_size")
    record_masks: bool = False

    @classmethod
    def from_section(cls, section: Mapping[str, Any], record_masks: bool = False) -> "TrainSettings":
        """The settings of a resolved ``training`` section (:func:`training_for`: every key present)."""
        missing = [k for k in ("epochs", "lr", "momentum", "weight_decay", "milestones", "gamma", "batch_size")
                   if section.get(k) is None]
        if missing:
            raise KeyError(f"training section without {missing}: resolve it with sparsetopo.training_settings."
                           f"training_for(section, dataset, model) first")
        return cls(epochs=int(section["epochs"]), lr=float(section["lr"]), momentum=float(section["momentum"]),
                   weight_decay=float(section["weight_decay"]), milestones=tuple(section["milestones"]),
                   gamma=float(section["gamma"]), batch_size=int(section["batch_size"]), record_masks=record_masks)


def dense_weight_decay(model_name: str) -> float:
    """Weight decay of the main paper: 5e-4 for Wide-ResNet, 1e-4 otherwise."""
    return 5e-4 if model_name.startswith("wrn") else 1e-4


def training_for(training_cfg: Mapping[str, Any] | None, dataset: str, model: str) -> dict[str, Any]:
    """The resolved ``training`` section of one run: defaults, then the section's own keys, then
    ``per_dataset.<dataset>``, then ``per_dataset.<dataset>.per_model.<model>``; ``weight_decay: null`` becomes
    the model's default. The result has no ``per_dataset`` key. Every stage reads training settings from here."""
    cfg = dict(training_cfg or {})
    override = dict((cfg.pop("per_dataset", None) or {}).get(dataset) or {})
    per_model = dict((override.pop("per_model", None) or {}).get(model) or {})
    defaults = {k: v for k, v in _schema_defaults().items() if k != "per_dataset"}
    resolved = {**defaults, **cfg, **override, **per_model}
    if resolved["weight_decay"] is None:
        resolved["weight_decay"] = dense_weight_decay(model)
    resolved["milestones"] = list(resolved["milestones"])
    return resolved
