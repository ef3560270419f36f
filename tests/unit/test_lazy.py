"""The lazy packages (iamlayer, iamlayer.secrets): every name of `__all__` loads from the module
said to hold it, is kept in the package after its first use, and an unknown name is an
AttributeError as for any module. (That importing them loads nothing heavy is
tests/unit/test_cli_startup.py's.)"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import iamlayer
import iamlayer.secrets


def _home(package: ModuleType, name: str) -> str:
    """The module `package` says holds `name`."""
    if package is iamlayer:
        return str(iamlayer._ELSEWHERE.get(name, "iamlayer.api"))
    return str(iamlayer.secrets._FROM[name])


@pytest.mark.parametrize("package", [iamlayer, iamlayer.secrets], ids=lambda p: p.__name__)
def test_every_exported_name_loads_from_its_module_and_stays(package: ModuleType) -> None:
    names = [n for n in package.__all__ if n != "__version__"]
    assert names and len(set(package.__all__)) == len(package.__all__)
    for name in names:
        value = getattr(package, name)
        assert value is getattr(importlib.import_module(_home(package, name)), name), name
        assert vars(package)[name] is value, name
    assert dir(package) == sorted(package.__all__)


def test_the_secrets_table_names_exactly_what_is_exported() -> None:
    assert sorted(iamlayer.secrets._FROM) == sorted(iamlayer.secrets.__all__)
    assert set(iamlayer._ELSEWHERE) < set(iamlayer.__all__)


@pytest.mark.parametrize("package", [iamlayer, iamlayer.secrets], ids=lambda p: p.__name__)
def test_an_unknown_name_is_an_attribute_error(package: ModuleType) -> None:
    with pytest.raises(
        AttributeError, match=rf"^module '{package.__name__}' has no attribute 'no_such_name'$"
    ):
        package.no_such_name  # noqa: B018


def test_a_name_of_iamlayer_api_that_is_not_exported_is_not_served() -> None:
    assert hasattr(importlib.import_module("iamlayer.api"), "Progress")
    with pytest.raises(AttributeError):
        iamlayer.Progress  # noqa: B018
