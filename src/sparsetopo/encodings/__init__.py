"""Graph encodings of a (sparse) network: the unrolled, input-aware multipartite encoding (MGE) and the
per-layer bipartite encodings ``rolled`` and ``rolled_channel``.

The package is split by job:

- :mod:`.structure`: the pass-1 data (parts, tensor values seen through pooling, edge jobs, pooling matrices);
- :mod:`.tracing`: pass 1, tracing a model with ``torch.fx`` into that structure;
- :mod:`.multipartite_graph`: pass 2, the vectorised edge counting and building of the MGE;
- :mod:`.implicit`: the MGE kept implicit (the layers' index tables, no edges) for networks too large to store;
- :mod:`.bipartite`: the per-layer bipartite graphs.

Encoders are looked up by name in :data:`ENCODERS` (``multipartite``, ``rolled``, ``rolled_channel``).
"""

from __future__ import annotations

from typing import Callable, Sequence

from torch import nn

from ..graph import Graph
from ..registry import Registry
from .bipartite import rolled, rolled_channel
from .implicit import ImplicitGraph, implicit_multipartite
from .multipartite_graph import dense_edge_count, edge_count, multipartite, node_count
from .structure import EncodingError

__all__ = [
    "ENCODERS", "EncodingError", "multipartite", "rolled", "rolled_channel", "encode",
    "dense_edge_count", "edge_count", "node_count", "implicit_multipartite", "ImplicitGraph",
]

Encoder = Callable[..., list[Graph]]
ENCODERS: Registry[Encoder] = Registry("encoding")


@ENCODERS.register("multipartite")
def _encode_multipartite(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                         ) -> list[Graph]:
    return [multipartite(model, input_shape, identity_shortcuts)]


@ENCODERS.register("rolled")
def _encode_rolled(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                   ) -> list[Graph]:
    return rolled(model)


@ENCODERS.register("rolled_channel")
def _encode_rolled_channel(model: nn.Module, input_shape: Sequence[int], identity_shortcuts: bool = False
                           ) -> list[Graph]:
    return rolled_channel(model)


def encode(model: nn.Module, input_shape: Sequence[int], encoding: str,
           identity_shortcuts: bool = False) -> list[Graph]:
    """Encode ``model`` with the registered ``encoding`` (multipartite, rolled, rolled_channel)."""
    return ENCODERS.get(encoding)(model, input_shape, identity_shortcuts)
