"""Early-bird tickets: the mask-distance detector (You et al., ICLR 2020) and the spline / activation-pattern
detector (You et al., TMLR 2022), plus the search-and-retrain experiment of the workflow.

Modules, by job: :mod:`.detectors` (pure detectors and distance matrices on per-epoch records), :mod:`.tickets`
(BN access, sign-pattern recording, the online recorder, channel pruning), :mod:`.training` (the search and the
retraining of tickets), :mod:`.records` (the per-epoch record file and the distances table), :mod:`.figures`
(the distance-matrix figure).
"""

from .detectors import (
    PatternRecord, channel_mask, detect_mask_eb, detect_spline_eb, detections_from_matrices, distance_matrices,
    hamming, mask_distance_matrix, pack_pattern, packed_hamming, spline_distance, spline_distance_matrix,
)
from .tickets import (
    BN_TYPES, EarlyBirdRecorder, bn_gammas, bn_layers, bn_producers, l1_bn_penalty, probe_batch, prune_channels,
    record_patterns,
)
from .training import EARLYBIRD_OPTIONS, earlybird_options, retrain_ticket, search

__all__ = [
    "BN_TYPES", "EARLYBIRD_OPTIONS", "EarlyBirdRecorder", "PatternRecord", "bn_gammas", "bn_layers", "bn_producers",
    "channel_mask", "detect_mask_eb", "detect_spline_eb", "detections_from_matrices", "distance_matrices",
    "earlybird_options", "hamming", "l1_bn_penalty", "mask_distance_matrix", "pack_pattern", "packed_hamming",
    "probe_batch", "prune_channels", "record_patterns", "retrain_ticket", "search", "spline_distance",
    "spline_distance_matrix",
]
