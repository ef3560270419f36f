"""principalmapper, the independent IAM policy evaluator the tests hold iamlayer's against.

principalmapper 1.1.5 was written for Python < 3.10 and still imports ABCs such as
`collections.Mapping`; importing this module first aliases them back from `collections.abc`, in
the tests only (iamlayer itself never imports principalmapper).
"""

from __future__ import annotations

import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "MutableSet", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from principalmapper.common import Group, Node, Policy  # noqa: E402
from principalmapper.querying import local_policy_simulation as lps  # noqa: E402
from principalmapper.querying.query_interface import (  # noqa: E402
    _infer_condition_keys,
    local_check_authorization_full,
)
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

__all__ = [
    "CaseInsensitiveDict",
    "Group",
    "Node",
    "Policy",
    "_infer_condition_keys",
    "local_check_authorization_full",
    "lps",
]
