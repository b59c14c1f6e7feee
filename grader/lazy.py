"""Names a package re-exports from its modules, each imported on first use (PEP 562)."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def exports(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: a name of `homes` (name -> the module it lives in) is
    imported from its module once and kept in `namespace` (the package's globals())."""

    def __getattr__(name: str) -> Any:
        module = homes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
