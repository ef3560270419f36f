"""iamlayer: your AWS identities layer as code, as a library and a CLI.

    import iamlayer

    spec = iamlayer.load_spec("iamlayer.yaml")
    plan = iamlayer.make_plan(spec, credentials="acme-admin")   # or a boto3.Session
    print(iamlayer.render_plan(plan, detail=False))
    applied = iamlayer.apply_plan(spec, plan, credentials="acme-admin")

The functions and result types are those of `iamlayer.api` (see its docstring), the errors those
of `iamlayer.errors`. They are loaded on first use, so `import iamlayer` (and the CLI's start) stays
fast; type checkers see them as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iamlayer._lazy import lazy_attributes

__version__ = "0.1.0"

#: where the names of __all__ that are not iamlayer.api's live
_ELSEWHERE: dict[str, str] = {
    **dict.fromkeys(
        (
            "IamlayerError",
            "SpecError",
            "Diagnostic",
            "PlanError",
            "StalePlanError",
            "ApplyError",
            "AwsError",
            "CredentialsError",
            "LockedError",
            "UserAbort",
        ),
        "iamlayer.errors",
    ),
    "Spec": "iamlayer.spec.model",
    "Plan": "iamlayer.plan.model",
    "Change": "iamlayer.plan.model",
    "ApiStats": "iamlayer.stats",
    "Rotation": "iamlayer.apply.access_keys",
}

# Spelled out for type checkers, linters and readers; tests/unit/test_lazy.py checks that each name
# loads from where it is said to be.
__all__ = [
    "ApiStats",
    "Applied",
    "ApplyError",
    "Audit",
    "AwsError",
    "Change",
    "CredentialsError",
    "Diagnostic",
    "Discovery",
    "IamlayerError",
    "IssuedPassword",
    "LockedError",
    "Outputs",
    "PersonOutputs",
    "Plan",
    "PlanError",
    "Retirement",
    "Rotation",
    "Spec",
    "SpecError",
    "StalePlanError",
    "StsRegions",
    "UserAbort",
    "Validation",
    "__version__",
    "apply_plan",
    "discover_accounts",
    "load_spec",
    "make_plan",
    "operator_policy",
    "outputs",
    "read_plan",
    "render_plan",
    "render_profiles",
    "reset_password",
    "resolve_spec",
    "retire_access_keys",
    "rotate_access_key",
    "run_audit",
    "save_plan",
    "sts_regions",
    "validate",
]

if TYPE_CHECKING:
    from iamlayer.api import (
        Applied,
        Audit,
        Discovery,
        IssuedPassword,
        Outputs,
        PersonOutputs,
        Retirement,
        StsRegions,
        Validation,
        apply_plan,
        discover_accounts,
        load_spec,
        make_plan,
        operator_policy,
        outputs,
        read_plan,
        render_plan,
        render_profiles,
        reset_password,
        resolve_spec,
        retire_access_keys,
        rotate_access_key,
        run_audit,
        save_plan,
        sts_regions,
        validate,
    )
    from iamlayer.apply.access_keys import Rotation
    from iamlayer.errors import (
        ApplyError,
        AwsError,
        CredentialsError,
        Diagnostic,
        IamlayerError,
        LockedError,
        PlanError,
        SpecError,
        StalePlanError,
        UserAbort,
    )
    from iamlayer.plan.model import Change, Plan
    from iamlayer.spec.model import Spec
    from iamlayer.stats import ApiStats


__getattr__, __dir__ = lazy_attributes(__name__, __all__, _ELSEWHERE, default="iamlayer.api")
