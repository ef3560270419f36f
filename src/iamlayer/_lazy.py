"""Package attributes loaded on first use (PEP 562), so that importing a package stays cheap:
`import iamlayer` and the CLI's start load no AWS SDK or OpenPGP library
(tests/unit/test_cli_startup.py).

A package spells out its `__all__` (type checkers read only a literal list) and its TYPE_CHECKING
imports, says which module holds each name, and takes the module-level `__getattr__` and
`__dir__` made here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_attributes(
    package: str, exported: Sequence[str], where: Mapping[str, str], *, default: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: a name of `exported` is imported from its module
    in `where` (else from `default`) the first time it is asked for, then kept in the package."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = where.get(name, default) if name in exported else None
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # found there from now on, without coming back here
        return value

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__
