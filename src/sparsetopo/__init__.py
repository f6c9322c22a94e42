"""sparsetopo: the topology of sparse neural networks, from pruning to statistics."""

__version__ = "0.1.0"
