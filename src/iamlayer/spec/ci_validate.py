"""Validation of the spec's `ci:` block: CI systems that plan and apply with an OIDC token.

    ci:
      github: {repository: acme/infrastructure, account: management,
               plan: {pull_requests: true}, apply: {environment: production}}
      gitlab: {project: acme/infrastructure, apply: {branch: main}}

Each selector of `plan:` and `apply:` becomes one exact `sub` its role trusts (iamlayer.plan.ci):

- GitHub: `pull_requests: true` -> repo:R:pull_request, `environment: E` -> repo:R:environment:E,
  `branch: B` -> repo:R:ref:refs/heads/B;
- GitLab: `branch: B` -> project_path:P:ref_type:branch:ref:B.

`plan:` left out: the plan role trusts what the apply role trusts (a drift job on the main
branch plans). `account:` defaults to the people account; `url:` overrides the issuer (a
self-hosted GitLab, GitHub Enterprise Server). Wildcards are refused: a `sub` is matched exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from iamlayer.kinds import limit
from iamlayer.plan.model import Kind
from iamlayer.spec.model import CiProvider, Role
from iamlayer.spec.nodes import Node

if TYPE_CHECKING:
    from iamlayer.spec.validate import SpecBuilder

CI_FIELDS: Final = ("github", "gitlab")
GITHUB_FIELDS: Final = ("repository", "account", "url", "plan", "apply")
GITLAB_FIELDS: Final = ("project", "account", "url", "plan", "apply")
GITHUB_SELECTORS: Final = ("pull_requests", "environment", "branch")
GITLAB_SELECTORS: Final = ("branch",)

GITHUB_URL: Final = "https://token.actions.githubusercontent.com"
#: what aws-actions/configure-aws-credentials asks GitHub to put in the token's `aud`
GITHUB_AUDIENCE: Final = "sts.amazonaws.com"
GITLAB_URL: Final = "https://gitlab.com"

REPOSITORY: Final = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
REPOSITORY_RULE: Final = "OWNER/NAME, e.g. acme/infrastructure (no wildcard)"
PROJECT: Final = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+")
PROJECT_RULE: Final = (
    "the project's full path GROUP[/SUBGROUP...]/PROJECT, e.g. acme/infrastructure (no wildcard)"
)
#: a branch or environment name as it appears in the `sub`: no wildcard, no `:` (the claim's separator)
NAME: Final = re.compile(r"[^\s*?:\[\]\\~^]+")
NAME_RULE: Final = "one exact name: no wildcard (* ?), no ':' and no spaces"
URL: Final = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/-]*)?")
URL_RULE: Final = "the issuer's https:// URL, e.g. https://gitlab.example.com"


def build_ci(
    sb: SpecBuilder, node: Node, accounts: Sequence[str], people: str | None, roles: Mapping[str, Role]
) -> tuple[CiProvider, ...]:
    """The `ci:` block; what is wrong is reported and left out. A role of `roles:` may not take
    the IAM name of a CI role in its account."""
    r = sb.r
    top = r.fields(node, CI_FIELDS, what="ci")
    if top is None:
        return ()
    out: list[CiProvider] = []
    for name, sub in top.items():
        provider = _provider(sb, name, sub, accounts, people)
        if provider is None:
            continue
        for role in roles.values():
            if provider.account in role.accounts and role.name in (provider.plan_role, provider.apply_role):
                r.error(
                    sub,
                    f"ci.{name} makes role {role.name} in account {provider.account}, which roles: also names",
                    "rename that role",
                )
        out.append(provider)
    return tuple(out)


def _provider(
    sb: SpecBuilder, name: str, node: Node, accounts: Sequence[str], people: str | None
) -> CiProvider | None:
    r = sb.r
    github = name == "github"
    subject_key = "repository" if github else "project"
    f = r.fields(
        node, GITHUB_FIELDS if github else GITLAB_FIELDS, required=(subject_key, "apply"), what=f"ci.{name}"
    )
    if f is None:
        return None
    subject = (
        r.string(
            f[subject_key],
            pattern=REPOSITORY if github else PROJECT,
            rule=REPOSITORY_RULE if github else PROJECT_RULE,
        )
        if subject_key in f
        else None
    )
    account = r.reference(f["account"], accounts, "account", "accounts") if "account" in f else people
    url = _url(sb, f["url"]) if "url" in f else (GITHUB_URL if github else GITLAB_URL)
    if subject is None or account is None or url is None or "apply" not in f:
        return None
    selectors = GITHUB_SELECTORS if github else GITLAB_SELECTORS
    apply = _subs(sb, f["apply"], name, subject, selectors)
    plan = _subs(sb, f["plan"], name, subject, selectors) if "plan" in f else apply
    if not apply or not plan:
        return None
    return CiProvider(
        name=name,
        subject=subject,
        account=account,
        url=url,
        audience=GITHUB_AUDIENCE if github else url,
        plan_subs=plan,
        apply_subs=apply,
        line=node.line,
    )


def _url(sb: SpecBuilder, node: Node) -> str | None:
    url = sb.r.string(node, pattern=URL, rule=URL_RULE)
    if url is None:
        return None
    url = url.rstrip("/")
    most = limit(Kind.OIDC_PROVIDER, "url")
    if len(url) > most:
        sb.r.error(node, f"{node.path} is {len(url)} characters long", f"IAM allows at most {most}")
        return None
    return url


def _subs(sb: SpecBuilder, node: Node, ci: str, subject: str, selectors: Sequence[str]) -> tuple[str, ...]:
    """The exact `sub` values one `plan:` or `apply:` block selects; () after an error."""
    r = sb.r
    f = r.fields(node, selectors, what=node.path)
    if f is None:
        return ()
    subs: list[str] = []
    ok = True
    for key, child in f.items():
        if key == "pull_requests":
            on = r.boolean(child)
            ok = ok and on is not None
            if on:
                subs.append(f"repo:{subject}:pull_request")
            continue
        values = [child] if isinstance(child.value, str) else r.items(child, f"{key} names")
        if not values:
            ok = False
        for v in values:
            text = r.string(v, pattern=NAME, rule=NAME_RULE)
            if text is None:
                ok = False
            elif ci == "gitlab":
                subs.append(f"project_path:{subject}:ref_type:branch:ref:{text}")
            elif key == "environment":
                subs.append(f"repo:{subject}:environment:{text}")
            else:
                subs.append(f"repo:{subject}:ref:refs/heads/{text}")
    if ok and not subs:
        r.error(node, f"{node.path} selects no job", f"name at least one of: {', '.join(selectors)}")
    return tuple(dict.fromkeys(subs)) if ok else ()
