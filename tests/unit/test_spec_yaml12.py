"""The spec's YAML loader (iamlayer.spec.yaml12, PyYAML's C parser): the same meaning and the same
lines as ruamel.yaml's round-trip loader, which read specs before (issue 13), held against ruamel
itself (still a dependency: `accounts discover` edits files with it)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from spec_support import FIXTURES, MINIMAL, load_errors, write_spec

from iamlayer.spec import yaml12
from iamlayer.spec.load import MAX_SPEC_BYTES, load_spec
from iamlayer.spec.nodes import to_plain
from iamlayer.spec.scaffold import _template

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_plan import big_org_spec, single_account_spec

SCALARS = [
    "on",
    "off",
    "yes",
    "no",
    "y",
    "n",
    "Yes",
    "NO",
    "ON",
    "Off",
    "true",
    "false",
    "True",
    "FALSE",
    "TRUE",
    "tRue",
    "~",
    "null",
    "Null",
    "NULL",
    "NuLL",
    "0",
    "7",
    "-7",
    "+7",
    "012345678901",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1__0",
    "0_7",
    "-0",
    "+0",
    "00",
    "08",
    "09",
    "123456789012",
    "999999999999999999999999",
    "1e3",
    "1E3",
    "1.5",
    "-1.5",
    "+1.5",
    ".5",
    "5.",
    "1.5e3",
    "1e-3",
    "1_0.5",
    ".inf",
    "-.inf",
    "+.inf",
    ".Inf",
    "2012-10-17",
    "2012-10-17T12:00:00Z",
    "2001-12-14t21:59:43.10-05:00",
    "2002-12-14",
    "2012-1-7",
    "1:30",
    "1:30:00",
    "190:20:30",
    "0x_1F",
    "12e",
    "0.1.2",
    "1,000",
    "$1",
    "arn:aws:iam::aws:policy/X",
    '"*"',
    "'x'",
    '"true"',
    "'012'",
    '""',
    "''",
]


def ruamel(text: str) -> Any:
    return YAML(typ="rt").load(text)


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_mean_what_they_meant(scalar: str) -> None:
    """YAML 1.2 as ruamel.yaml reads it: `on`/`yes`/`no` strings, only true/false booleans, no
    sexagesimals, dates; and a zero-padded integer remembers its width (account ids)."""
    text = f"k: {scalar}\n"
    old, new = ruamel(text)["k"], yaml12.load(text)["k"]
    assert type(to_plain(new)) is type(to_plain(old))
    if isinstance(to_plain(old), float) and math.isnan(to_plain(old)):
        assert math.isnan(to_plain(new))
    else:
        assert to_plain(new) == to_plain(old)
    if isinstance(old, int) and not isinstance(old, bool):
        assert getattr(new, "_width", None) == getattr(old, "_width", None)


def test_on_and_friends_are_strings_even_as_keys() -> None:
    """checks: entries use `on:` as a key; YAML 1.1 (PyYAML's default) would read it as True."""
    data = yaml12.load("checks:\n  - {who: '*', cannot: x:Y, on: '*', mfa: false}\nyes: no\n")
    assert list(data["checks"][0]) == ["who", "cannot", "on", "mfa"]
    assert data["checks"][0]["mfa"] is False and data["yes"] == "no"


def _lines(tree: Any, path: str = "") -> dict[str, int | None]:
    """Every key path's line, and every item's, as a loader reports them."""
    out: dict[str, int | None] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            here = f"{path}.{k}"
            if hasattr(tree, "lc"):
                out[here] = tree.lc.key(k)[0] + 1
            else:
                out[here] = tree.key_lines[k]
            out.update(_lines(v, here))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            here = f"{path}[{i}]"
            out[here] = tree.lc.item(i)[0] + 1 if hasattr(tree, "lc") else tree.item_lines[i]
            out.update(_lines(v, here))
    return out


def _specs() -> dict[str, str]:
    return {
        "design example": (FIXTURES / "design_example.yaml").read_text(),
        "init template": _template("iamlayer.yaml", example_keys=True).decode(),
        "bench, keys": single_account_spec(50, keys=3),
        "bench, organization": big_org_spec(5, 3, 20),
        "block lists and nesting": (
            "a:\n  -\n    x: 1\n  - y: 2\n  - [3, 4]\n  - z: |\n      text\n      more\n"
            "b: >\n  folded\n  text\nc:\n  d:\n    e: [1,\n      2]\n    f:\n    - g\n    -  h\n"
        ),
    }


@pytest.mark.parametrize("name", list(_specs()))
def test_every_key_and_item_is_on_the_line_ruamel_said(name: str) -> None:
    text = _specs()[name]
    old, new = ruamel(text), yaml12.load(text)
    assert to_plain(new) == to_plain(old)
    assert _lines(new) == _lines(old)


def test_a_repeated_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "users:\n  bob: {console: false}\n  bob: {console: false}\n")
    [d] = load_errors(path)
    assert d.line == 6 and "duplicate key 'bob' (first at line 5)" in d.message
    assert d.hint == "a key may appear only once in a mapping"


def test_anchors_aliases_and_merges() -> None:
    data = yaml12.load(
        "base: &b {console: false, groups: [a]}\nusers:\n  ann: *b\n  bob:\n    <<: *b\n    groups: [b]\n"
    )
    assert data["users"]["ann"] == {"console": False, "groups": ["a"]}
    assert data["users"]["bob"] == {"groups": ["b"], "console": False}  # its own key wins
    assert data["users"]["bob"].key_lines == {"groups": 6, "console": 5}


def test_syntax_errors_say_where() -> None:
    with pytest.raises(yaml12.YamlError) as info:
        yaml12.load("a: 1\nb: [1, 2\nc: 3\n")
    assert info.value.line is not None and info.value.line >= 2
    assert "flow sequence" in info.value.problem
    with pytest.raises(yaml12.YamlError) as info:
        yaml12.load("a:\n\t- 1\n")
    assert info.value.line == 2 and "tab" in info.value.problem.lower()


def test_a_spec_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 10 MB spec of comment lines kept every command busy for 77 s (issue 13)."""
    path = tmp_path / "iamlayer.yaml"
    comment = "# " + "x" * 98 + "\n"
    path.write_text(MINIMAL + comment * (MAX_SPEC_BYTES // len(comment) + 1))
    t0 = time.perf_counter()
    [d] = load_errors(path)
    assert time.perf_counter() - t0 < 1.0
    assert d.line is None and "iamlayer reads specs of up to 4 MiB" in d.message
    assert "policies/x.json" in (d.hint or "")
    path.write_text(MINIMAL + comment * ((MAX_SPEC_BYTES - len(MINIMAL)) // len(comment)))
    assert load_spec(path).project == "acme"  # just under the limit: read, comments and all
