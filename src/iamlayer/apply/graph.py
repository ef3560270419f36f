"""The order apply runs a plan's changes in: a dependency graph over the changes. Pure.

Each change names the resources it *is* (`_provides`) and the ones it *uses* (`_uses`), from its
address and data only; edges follow from those:

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
from iamlayer.plan.model import Action, Change, Kind

#: A resource as the rules name it: (what, account, name); `"*"` as name: any of that account.
Key = tuple[str, str, str]
ANY = "*"


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


def _policy_in(arn: str, account_ids: Mapping[str, str]) -> tuple[str, str] | None:
    """(account name, policy name) of a customer-managed policy ARN of an account of the plan."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("policy/"):
        return None
    account = account_ids.get(parts[4])
    return (account, parts[5].rsplit("/", 1)[-1]) if account else None


def _ref_name(ref: str) -> str:
    """The policy name of a customer-managed reference "/path/name"."""
    return ref.rsplit("/", 1)[-1]


class _Rules:
    def __init__(self, changes: Sequence[Change], account_ids: Mapping[str, str]) -> None:
        self.account_ids = account_ids  # account id -> the plan's account name
        # What the plan says each permission set references in other accounts: (IC account,
        # set) -> policy names, when a change of the set carries its customer-managed policies.
        self.ps_refs: dict[tuple[str, str], set[str]] = {}
        for c in changes:
            if c.address.kind is not Kind.PERMISSION_SET:
                continue
            for d in (c.before, c.after):
                if d and ("customer_managed_policies" in d or "boundary" in d):
                    refs = self.ps_refs.setdefault((c.address.account, c.address.name), set())
                    refs.update(_ref_name(r) for r in d.get("customer_managed_policies") or ())
                    boundary = d.get("boundary")
                    if boundary and not str(boundary).startswith("arn:"):
                        refs.add(_ref_name(str(boundary)))

    def target(self, c: Change, data: Mapping[str, Any]) -> str:
        """The account (plan name) an Identity Center assignment or provisioning is for."""
        return self.account_ids.get(str(data.get("account_id", "")), c.address.sub.rpartition("@")[2])

    def provides(self, c: Change) -> list[Key]:
        a, k, name = c.address.account, c.address.kind, c.address.name
        data = c.after or c.before or {}
        simple = {
            Kind.POLICY: "policy",
            Kind.ROLE: "role",
            Kind.GROUP: "group",
            Kind.USER: "user",
            Kind.IC_USER: "ic_user",
            Kind.IC_GROUP: "ic_group",
            Kind.PERMISSION_SET: "permission_set",
        }
        if k in simple:
            keys: list[Key] = [(simple[k], a, name)]
            if k is Kind.POLICY:
                keys.append(("policy", a, ANY))
            return keys
        if k is Kind.PASSWORD_POLICY:
            return [("password_policy", a, "")]
        if k is Kind.ACCESS_KEY:
            return [("access_key", a, name)]
        if k is Kind.IC_ASSIGNMENT:
            # what AWS provisions in the target account: the permission set's role there
            return [("provisioned", a, f"{data.get('permission_set', '')}@{self.target(c, data)}")]
        return []

    def uses(self, c: Change) -> list[Key]:
        a, k, name, sub = c.address.account, c.address.kind, c.address.name, c.address.sub
        data = (c.before if c.action is Action.DELETE else c.after) or {}
        if k in (Kind.ROLE, Kind.GROUP):
            # a boundary it is made with; the policies its delete detaches (before the policies go)
            arns = [str(data.get("permissions_boundary") or ""), *data.get("attached_policies", ())]
            hits = [h for h in (_policy_in(x, self.account_ids) for x in arns) if h and h[0] == a]
            return [("policy", *h) for h in hits]
        if k is Kind.USER:
            # a user's delete takes it out of its groups: before those groups go
            return [("group", a, g) for g in data.get("groups", ()) if c.action is Action.DELETE]
        if k in (Kind.ROLE_POLICY_ATTACHMENT, Kind.GROUP_POLICY_ATTACHMENT):
            owner = "role" if k is Kind.ROLE_POLICY_ATTACHMENT else "group"
            hit = _policy_in(sub, self.account_ids)
            return [(owner, a, name)] + ([("policy", *hit)] if hit and hit[0] == a else [])
        if k is Kind.ROLE_INLINE_POLICY:
            return [("role", a, name)]
        if k is Kind.GROUP_INLINE_POLICY:
            return [("group", a, name)]
        if k is Kind.GROUP_MEMBERSHIP:
            return [("user", a, name), ("group", a, sub)]
        if k is Kind.LOGIN_PROFILE:
            return [("user", a, name), ("password_policy", a, "")]
        if k in (Kind.ACCESS_KEY, Kind.STAGED_PASSWORD):
            return [("user", a, name)]
        if k is Kind.IC_MEMBERSHIP:
            return [("ic_group", a, name), ("ic_user", a, sub)]
        if k is Kind.IC_ASSIGNMENT:
            kind, _, principal = name.partition("/")
            ps = str(data.get("permission_set") or sub.partition("@")[0])
            return [
                (f"ic_{kind}", a, principal),
                ("permission_set", a, ps),
                *self.policies_of(a, ps, self.target(c, data)),
            ]
        if k is Kind.IC_PROVISION:
            target = self.target(c, data)
            return [
                ("permission_set", a, name),
                ("provisioned", a, f"{name}@{target}"),
                *self.policies_of(a, name, target),
            ]
        return []

    def policies_of(self, ic_account: str, ps: str, target: str) -> list[Key]:
        refs = self.ps_refs.get((ic_account, ps))
        if refs is None:
            return [("policy", target, ANY)]  # unknown here: wait for every policy change there
        return [("policy", target, n) for n in sorted(refs)]


def build(changes: Sequence[Change], account_ids: Mapping[str, str]) -> Graph:
    """The dependency graph of `changes` (in the plan's order); `account_ids` maps each account
    id of the plan to its name. Raises ApplyError on a cycle (a bug in the rules above)."""
    rules = _Rules(changes, account_ids)
    up: dict[Key, list[int]] = {}  # resource -> creates/updates/adopts of it
    down: dict[Key, list[int]] = {}  # resource -> deletes of it
    users_of: dict[Key, list[int]] = {}  # resource -> non-deletes that use it
    uses = [rules.uses(c) for c in changes]
    for i, c in enumerate(changes):
        for key in rules.provides(c):
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
            for key in rules.provides(c):
                if key[0] == "policy" and key[2] == ANY:
                    continue
                # after the non-deletes that still use it (they stop using it), by name or "any"
                named = users_of.get(key, [])
                wildcard = users_of.get((key[0], key[1], ANY), []) if key[0] == "policy" else []
                needs[i].update(named, wildcard)
        if c.address.kind is Kind.ACCESS_KEY and not deleting:
            needs[i].update(down.get(("access_key", c.address.account, c.address.name), ()))
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
