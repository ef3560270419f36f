"""iamlayer's exception tree. Everything the CLI reports to a person derives from IamlayerError.

    IamlayerError
    ├── SpecError            the spec (or a file it names) is invalid; carries every Diagnostic
    ├── KeyFileError         a PGP public key cannot be used for encryption
    ├── PlanError            a plan cannot be made or used
    │   ├── StalePlanError   a saved plan's accounts changed since it was made
    │   └── BehindError      this checkout is behind the team's last apply
    ├── ApplyError           an apply step failed; says what was being attempted
    │   └── InconsistentResultError  after apply, the re-read still differs from the spec
    ├── OwnershipError       a resource in the spec exists but is not owned by this project
    ├── AwsError             an AWS call failed (mapped from botocore in iamlayer.aws only)
    │   ├── AccessDeniedError
    │   ├── NotFoundError
    │   ├── AlreadyExistsError
    │   ├── ConflictError    Identity Center's ConflictException: a race, or perhaps done already
    │   ├── ThrottledError
    │   └── EndpointError    the endpoint could not be reached (network, sandbox not running)
    ├── CredentialsError     no usable AWS credentials, or an account cannot be reached
    ├── LockedError          another iamlayer process (or operator) is writing to the same account
    ├── QueryError           an access question names what the layer does not have
    └── UserAbort            the person answered "no"

The CLI maps SpecError to exit code 2 and every other IamlayerError to exit code 1 (a QueryError
is a usage error of `iamlayer access`: 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class IamlayerError(Exception):
    """Base of every error iamlayer reports on purpose."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the spec: where it is, what is wrong, and how to fix it."""

    file: str
    line: int | None
    key: str  # dotted key path, e.g. "users.jane.doe.groups[0]"
    message: str
    hint: str | None = None  # e.g. "did you mean 'devops'?" or "valid values: a, b"
    severity: str = "error"  # "error", "warning", or "note" (worth knowing, not a problem)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.severity}: " + (f"{self.key}: " if self.key else "") + self.message
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class SpecError(IamlayerError):
    """The spec is invalid. `diagnostics` holds every problem found, not just the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        return f"{len(errors)} error(s) in the spec:\n" + "\n".join(str(d) for d in self.diagnostics)


class KeyFileError(IamlayerError):
    """A public key file is unreadable, or has no usable (valid, unexpired, unrevoked) encryption key."""


class PlanError(IamlayerError):
    """A plan cannot be made or used."""


class StalePlanError(PlanError):
    """A saved plan was made from account state that has since changed."""


class BehindError(PlanError):
    """The spec differs from the team's last apply, whose commit this checkout's history lacks."""


class ApplyError(IamlayerError):
    """An apply step failed. The message says what was being attempted, where."""


class InconsistentResultError(ApplyError):
    """After apply, re-reading the accounts still shows changes to make."""


class OwnershipError(IamlayerError):
    """A resource named in the spec exists but is not owned by this project."""


class AwsError(IamlayerError):
    """An AWS API call failed. `code` is AWS's error code, `operation` the API operation, `status`
    the HTTP status of AWS's answer (0 when there was no answer)."""

    def __init__(self, message: str, *, code: str = "", operation: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.status = status


class AccessDeniedError(AwsError):
    pass


class NotFoundError(AwsError):
    pass


class AlreadyExistsError(AwsError):
    pass


class ConflictError(AwsError):
    """IAM Identity Center's ConflictException that does not say, in structured data, that a name
    is taken. It means a write raced another on the same resource, retried with backoff; for the
    creates and attaches that answer it also for what is there already (`maybe_done`), a
    confirming read tells which (iamlayer.aws.errors.CONFLICT_MAYBE_DONE, iamlayer.aws.retry)."""

    def __init__(
        self, message: str, *, code: str = "", operation: str = "", status: int = 0, maybe_done: bool = False
    ) -> None:
        super().__init__(message, code=code, operation=operation, status=status)
        self.maybe_done = maybe_done


class ThrottledError(AwsError):
    pass


class EndpointError(AwsError):
    pass


class CredentialsError(IamlayerError):
    """No usable AWS credentials, or an account could not be reached."""


class LockedError(IamlayerError):
    """Another iamlayer process holds the lock of an account this command writes to."""


class QueryError(IamlayerError):
    """An access question (iamlayer.access.ask) names a user, role, account or resource the layer
    does not have, or is malformed. `argument` says which part of the question: "user", "action",
    "resource", "role" or "account"."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class UserAbort(IamlayerError):
    """The person declined a confirmation."""
