"""Small name -> object registries (pruners, models, datasets, encodings, metrics, analyses)."""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, Mapping, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised when a name is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0])


class Registry(Generic[T]):
    """A mapping from names to objects, filled with the ``register`` decorator, directly or by a module imported
    on the first lookup of a name it registers (:meth:`defer`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._deferred: dict[str, str] = {}

    def defer(self, modules: Mapping[str, str]) -> None:
        """Names (keys) registered by importing a module (values, absolute module names), imported only when the
        name is first looked up: a program imports the code of what it uses, and no other."""
        self._deferred.update(modules)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (names are unique)."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """Return the object registered as ``name`` or fail with the list of known names."""
        if name not in self._items and name in self._deferred:
            module = self._deferred[name]
            importlib.import_module(module)
            if name not in self._items:
                raise RuntimeError(f"module {module} does not register {self.kind} {name!r} as declared")
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._deferred))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._deferred

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
