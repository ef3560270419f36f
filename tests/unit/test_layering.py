"""The layout tells the architecture: pure modules load nothing that talks to AWS, loads OpenPGP,
spawns processes or writes files.

"Pure" here is about imports: the spec model and its validation, the desired state, the diff, the
plan as a value and its rendering, the access evaluator and the audit controls compute over
values. (`iamlayer.spec.load` reads the one spec file it is given; that is its job.) Anything
that writes files, reads AWS or encrypts lives in modules of its own (`plan.planfile`,
`state.journal`, `secrets.outbox`, `aws.*`...), which the pure ones never import, not even
indirectly: every iamlayer module a pure module loads is itself pure.

Each pure module is imported in a fresh interpreter, one after the other; after each import, the
modules it brought are checked. When this fails, `python -X importtime -c 'import MODULE'` shows
the chain that loaded the forbidden module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import iamlayer

SRC = Path(iamlayer.__file__).parent

#: packages whose every module is pure (besides the exceptions below)
PURE_PACKAGES = ("spec", "access", "audit")

#: modules of those packages that write files by design; they must still not touch AWS
WRITERS = {
    "iamlayer.spec.edit": "edits the spec file in place (`iamlayer people add` and friends)",
    "iamlayer.spec.scaffold": "`iamlayer init`: writes a new layer and generates its example OpenPGP keys",
}

#: the pure modules of the packages that mix pure values with disk or AWS
PURE_MODULES = (
    "iamlayer._lazy",
    "iamlayer.errors",
    "iamlayer.kinds",
    "iamlayer.migrate.parity",
    "iamlayer.migrate.proposal",
    "iamlayer.migrate.retire",
    "iamlayer.plan.model",
    "iamlayer.plan.ci",
    "iamlayer.plan.desired",
    "iamlayer.plan.diff",
    "iamlayer.plan.ic_diff",
    "iamlayer.plan.limits",
    "iamlayer.plan.render",
    "iamlayer.plan.signin",
    "iamlayer.state.model",
    "iamlayer.state.ic_model",
    "iamlayer.state.normalize",
    "iamlayer.state.records",
    "iamlayer.secrets.names",
    "iamlayer.secrets.passwords",
)

#: third-party and standard modules no pure module may load (AWS SDK and its HTTP stack, the
#: emulator, OpenPGP, processes)
FORBIDDEN_OUTSIDE = ("boto3", "botocore", "moto", "urllib3", "requests", "pysequoia", "subprocess")

#: what talks to AWS: not even the writers may load it
AWS = ("boto3", "botocore", "moto", "urllib3", "requests", "iamlayer.aws")

#: iamlayer modules that are not pure but may be loaded: packages' own lazy __init__s
ALLOWED_IAMLAYER = {"iamlayer", "iamlayer.access", "iamlayer.audit", "iamlayer.secrets"}

_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(name)
    print(json.dumps([name, sorted(set(sys.modules) - before)]))
"""


def _modules_of(package: str) -> list[str]:
    return sorted(
        f"iamlayer.{package}.{p.stem}" if p.stem != "__init__" else f"iamlayer.{package}"
        for p in (SRC / package).glob("*.py")
    )


def pure_modules() -> list[str]:
    found = [m for pkg in PURE_PACKAGES for m in _modules_of(pkg) if m not in WRITERS]
    return sorted({*found, *PURE_MODULES})


def _load(modules: list[str]) -> dict[str, list[str]]:
    """For each module, imported in order in one fresh interpreter, the modules its import added."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules], capture_output=True, text=True, check=True, timeout=120
    )
    return dict(json.loads(line) for line in out.stdout.splitlines())


def _matches(loaded: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(loaded == p or loaded.startswith(p + ".") for p in prefixes)


def test_the_lists_name_modules_that_exist() -> None:
    for name in (*PURE_MODULES, *WRITERS):
        path = SRC.joinpath(*name.split(".")[1:])
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), name


def test_pure_modules_load_only_pure_modules() -> None:
    pure = pure_modules()
    allowed = {
        *pure,
        *ALLOWED_IAMLAYER,
        "iamlayer.spec",
        "iamlayer.plan",
        "iamlayer.state",
        "iamlayer.migrate",
    }
    problems = []
    for name, added in _load(pure).items():
        bad = [m for m in added if _matches(m, FORBIDDEN_OUTSIDE)]
        bad += [m for m in added if m.startswith("iamlayer") and m not in allowed]
        if bad:
            problems.append(f"{name} loads {', '.join(sorted(bad))}")
    assert not problems, "\n".join(problems)


def test_spec_writers_do_not_load_aws() -> None:
    for name, added in _load(sorted(WRITERS)).items():
        assert not [m for m in added if _matches(m, AWS)], name


def test_the_probe_sees_a_forbidden_import() -> None:
    # The probe itself works: a module that does talk to AWS is caught.
    added = _load(["iamlayer.plan.planner"])["iamlayer.plan.planner"]
    assert "boto3" in added and "iamlayer.aws.session" in added


#: services whose every call goes through a typed gateway (iamlayer.aws.gateways.<module>)
GATEWAY_ONLY = {"sts": "sts", "organizations": "organizations"}
#: the services iamlayer makes clients for besides those: an operation name they share with a
#: gateway-only service (organizations' TagResource is also sso-admin's) says nothing of the client
OTHER_SERVICES = ("iam", "sso-admin", "identitystore", "account", "accessanalyzer", "s3", "kms")


def _operation_names(service: str) -> set[str]:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op) for op in model.operation_names}


def gateway_only_operations() -> dict[str, str]:
    """python method name -> service, for the operations only a gateway-only service has."""
    shared = set().union(*(_operation_names(s) for s in OTHER_SERVICES))
    return {op: svc for svc in GATEWAY_ONLY for op in _operation_names(svc) - shared}


def direct_calls(source: str, operations: dict[str, str]) -> list[str]:
    """`x.<operation>(...)` and `x.get_paginator("<operation>")` calls in `source` of the operations."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            name = str(node.args[0].value)
        if name in operations:
            found.append(f"{node.lineno}: {operations[name]} {name}")
    return found


def test_sts_and_organizations_are_called_only_through_their_gateways() -> None:
    """Outside iamlayer/aws/gateways, no module calls an STS or Organizations client method: the
    gateways own paging, retries and error translation for them (iamlayer.aws.gateways.sts,
    .organizations)."""
    operations = gateway_only_operations()
    assert {"assume_role", "get_caller_identity", "list_accounts_for_parent"} <= set(operations)
    gateways = SRC / "aws" / "gateways"
    found = [
        f"{path.relative_to(SRC)}:{hit}"
        for path in sorted(SRC.rglob("*.py"))
        if gateways not in path.parents
        for hit in direct_calls(path.read_text(), operations)
    ]
    assert not found, "call these through iamlayer.aws.gateways:\n" + "\n".join(found)


def test_the_gateway_check_sees_a_direct_call() -> None:
    operations = gateway_only_operations()
    source = 'sts.assume_role(RoleArn=a)\norg.get_paginator("list_roots")\niam.get_user()\n'
    assert direct_calls(source, operations) == ["1: sts assume_role", "2: organizations list_roots"]
    # and the gateways themselves do call them
    assert direct_calls((SRC / "aws" / "gateways" / "sts.py").read_text(), operations)
