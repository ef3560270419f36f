"""The order apply runs a plan's changes in: a dependency graph over the changes. Pure.

Each change names the resources it *is* and the ones it *uses*, from its address and data only,
by the rules its kind declares (`provides` and `uses` in iamlayer.kinds); edges follow from
those, the same for every kind:

- a create/update/adopt runs after the creates/updates/adopts of what it uses: a policy before
  the attachments that use it, a role or group before its attachments and inline policies, a user
  and a group before the membership, a user before its login profile and access keys, the
  password policy before the login profiles, an Identity Center user and group before their
  membership; a permission set, its principal and the customer-managed policies it references in
  the target account before an assignment, the assignments of a permission set in an account
  before re-provisioning it there;
- deletes run in reverse: a delete runs after the deletes of what uses it (detach before delete,
  a role or group whose delete detaches a policy before that policy, a membership and a user
  before their group, an assignment before its permission set, principal and the policies in its
  account), and after the non-deletes that still use it (re-provisioning a
  permission set before the policy copies it referenced go);
- the same address keeps the plan's order (an adopt before the update that follows it);
- an access key's delete runs before the create of that user's new key: AWS allows two keys per
  user, and a key whose secret nobody holds must make room for its replacement.

Nothing else orders changes: other accounts and unrelated resources are independent, so one
failure holds back only what depends on it. A cycle is a bug in these rules, raised as such.

When the plan cannot say which customer-managed policies a permission set references (its
change is not in the plan), an assignment or provisioning waits for every policy change in its
target account: a wider wait, never a missing one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamlayer.errors import ApplyError
from iamlayer.kinds import ANY, REGISTRY, Deps, Key
from iamlayer.plan.model import Action, Change


@dataclass(frozen=True)
class Graph:
    """The changes (in the plan's order, which breaks ties) and, per change index, the indices
    of the changes it waits for (`needs`) and of those waiting for it (`feeds`)."""

    changes: tuple[Change, ...]
    needs: tuple[frozenset[int], ...]
    feeds: tuple[frozenset[int], ...]

    def edges(self) -> list[tuple[Change, Change]]:
        """(before, after) pairs: `after` waits for `before`."""
        return [(self.changes[b], self.changes[a]) for a, ns in enumerate(self.needs) for b in sorted(ns)]

    def descendants(self, i: int) -> list[int]:
        """Every change that waits for change `i`, directly or not, in the plan's order."""
        seen: set[int] = set()
        todo = list(self.feeds[i])
        while todo:
            j = todo.pop()
            if j not in seen:
                seen.add(j)
                todo.extend(self.feeds[j])
        return sorted(seen)


def build(changes: Sequence[Change], account_ids: Mapping[str, str]) -> Graph:
    """The dependency graph of `changes` (in the plan's order); `account_ids` maps each account
    id of the plan to its name. Raises ApplyError on a cycle (a bug in the kinds' rules)."""
    deps = Deps(changes, account_ids)
    provides = [REGISTRY[c.address.kind].provides(c, deps) for c in changes]
    up: dict[Key, list[int]] = {}  # resource -> creates/updates/adopts of it
    down: dict[Key, list[int]] = {}  # resource -> deletes of it
    users_of: dict[Key, list[int]] = {}  # resource -> non-deletes that use it
    uses = [REGISTRY[c.address.kind].uses(c, deps) for c in changes]
    for i, c in enumerate(changes):
        for key in provides[i]:
            (down if c.action is Action.DELETE else up).setdefault(key, []).append(i)
        if c.action is not Action.DELETE:
            for key in uses[i]:
                users_of.setdefault(key, []).append(i)

    needs: list[set[int]] = [set() for _ in changes]
    last_at: dict[Any, int] = {}
    for i, c in enumerate(changes):
        deleting = c.action is Action.DELETE
        for key in uses[i]:
            if not deleting:
                needs[i].update(up.get(key, ()))  # what it uses is made first
            else:
                for d in down.get(key, ()):
                    needs[d].add(i)  # and goes last: after every delete that uses it
        if deleting:
            for key in provides[i]:
                if key[2] == ANY:
                    continue
                # after the non-deletes that still use it (they stop using it), by name or "any"
                needs[i].update(users_of.get(key, []), users_of.get((key[0], key[1], ANY), []))
        elif REGISTRY[c.address.kind].delete_makes_room:
            for key in provides[i]:
                needs[i].update(down.get(key, ()))
        if c.address in last_at:
            needs[i].add(last_at[c.address])
        last_at[c.address] = i
    for i, n in enumerate(needs):
        n.discard(i)
    feeds: list[set[int]] = [set() for _ in changes]
    for i, n in enumerate(needs):
        for j in n:
            feeds[j].add(i)
    graph = Graph(tuple(changes), tuple(map(frozenset, needs)), tuple(map(frozenset, feeds)))
    _check_acyclic(graph)
    return graph


def _check_acyclic(graph: Graph) -> None:
    waiting = [len(n) for n in graph.needs]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in graph.feeds[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if done < len(graph.changes):
        stuck = [str(graph.changes[i].address) for i, w in enumerate(waiting) if w]
        raise ApplyError(
            "bug in iamlayer: the plan's changes depend on each other in a cycle, so none of them can "
            f"go first: {', '.join(stuck[:10])}" + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else "")
        )


def order(changes: Iterable[Change], account_ids: Mapping[str, str]) -> list[Change]:
    """A sequential order that respects the graph (for people and tests): the plan's order, each
    change as early as its dependencies allow."""
    graph = build(list(changes), account_ids)
    waiting = [len(n) for n in graph.needs]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    out: list[Change] = []
    while ready:
        i = heapq.heappop(ready)
        out.append(graph.changes[i])
        for j in graph.feeds[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    return out
