"""Stage ``data``: materialise an embedded dataset, or check (or download) an external one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from ..io import write_json
from ..provenance import record


def materialise_data(cfg: Mapping[str, Any], dataset: str, out_npz: str | None, out_json: str) -> dict[str, Any]:
    """Embedded datasets: write the normalised split to ``out_npz``. Others: check they are present
    (or download them when allowed) and write a manifest."""
    from ..data import DATASETS, dataset_info, load_dataset, materialise_embedded

    start = time.perf_counter()
    options = cfg.get("dataset_options", {}).get(dataset)
    info = dataset_info(dataset, options)
    if info.embedded:
        manifest = materialise_embedded(dataset, options or {}, out_npz)
    elif info.shape_only:
        manifest = {"dataset": dataset, "images": 0}
    else:
        DATASETS.get(dataset)
        train, test = load_dataset(dataset, cfg.get("data_root", "data"), bool(cfg.get("download", False)), options)
        manifest = {"dataset": dataset, "train": len(train), "test": len(test),
                    "data_root": str(cfg.get("data_root", "data"))}
    manifest.update({"input_shape": list(info.input_shape), "num_classes": info.num_classes,
                     "provenance": {**record("data", cfg, where=Path(out_json).parent),
                                    "seconds": time.perf_counter() - start}})
    write_json(out_json, manifest)
    return manifest
