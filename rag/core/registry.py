"""Choosing an implementation by name: one small registry per kind of component.

    >>> GENERATORS = Registry("generator", {"extractive": "rag.generators.extractive.generator:ExtractiveGenerator"})
    >>> GENERATORS.resolve("extractive")           # the class, imported on first use
    >>> GENERATORS.resolve("mypackage.gen:MyGen")  # not registered: a dotted path to a class of your own

Entries are "module:attribute" strings, so registering an implementation imports nothing (torch,
faiss and pymilvus load only when chosen). A name that is neither registered nor a dotted path is
a `ConfigError` listing the registered names.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from rag.core.errors import ConfigError

__all__ = ["Registry"]


class Registry:
    """Implementations of one kind (`kind`, such as "generator"), by name."""

    def __init__(self, kind: str, entries: Mapping[str, str]):
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def target(self, name: str) -> str:
        """The "module:attribute" a name stands for: its entry, or the name itself when it is a
        dotted path ("package.module:Class" or "package.module.Class")."""
        if name in self._entries:
            return self._entries[name]
        if isinstance(name, str) and ":" in name:
            return name
        if isinstance(name, str) and "." in name.strip(".") and " " not in name:
            module, _, attribute = name.rpartition(".")
            return f"{module}:{attribute}"
        raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())} "
                          f"(or give the dotted path of a class, such as package.module:Class)")

    def resolve(self, name: str) -> Any:
        """The class (or factory) registered as `name`, or found at the dotted path `name`."""
        target = self.target(name)
        module_name, _, attribute = target.partition(":")
        if not module_name or not attribute:
            raise ConfigError(f"{self.kind} {name!r}: expected package.module:Class")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if name in self._entries or not (exc.name and module_name.startswith(exc.name)):
                raise  # a registered implementation's own dependency is missing: that error says which
            raise ConfigError(f"unknown {self.kind} {name!r}: no module {module_name!r}; choose one of "
                              f"{', '.join(self.names())} or the dotted path of an installed class") from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise ConfigError(f"unknown {self.kind} {name!r}: module {module_name!r} has no {attribute!r}; "
                              f"choose one of {', '.join(self.names())}") from None

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self._entries!r})"
