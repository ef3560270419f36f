"""Every subcommand, in the order a person uses them, gathered in one place so the layout of the CLI
reads at a glance.

Each entry names the command, where it is defined and its one-line help: `iamlayer --help` lists
the commands from here without importing any of them, and running one imports only its module (so
boto3, the OpenPGP library and the rest load only for the commands that use them).
tests/unit/test_cli_startup.py keeps each line in step with the command's own docstring.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    name: str
    module: str
    attribute: str
    short_help: str


COMMANDS: tuple[Entry, ...] = (
    Entry("init", "iamlayer.cli.core", "init", "Scaffold a working layer in DIRECTORY: iamlayer.yaml, keys/ and a README."),
    Entry("validate", "iamlayer.cli.core", "validate", "Check the spec, its policies and its key files; report every problem at once."),
    Entry("plan", "iamlayer.cli.core", "plan", "Show what apply would change in every account, without changing anything."),
    Entry("apply", "iamlayer.cli.core", "apply", "Make the accounts match the spec: plan, confirm, apply, then verify."),
    Entry("operator-policy", "iamlayer.cli.core", "operator_policy", "Print the IAM policy the operator needs for plan and apply (least privilege)."),
    Entry("backend", "iamlayer.cli.backend_cmds", "backend", "The shared state of a team: locks, journal, last apply and ciphertexts in S3."),
    Entry("lock", "iamlayer.cli.backend_cmds", "lock", "The account locks: who writes to which account now."),
    Entry("accounts", "iamlayer.cli.org_cmds", "accounts", "The accounts of the layer."),
    Entry("import", "iamlayer.cli.import_cmds", "import_group", "Adopt what exists: write a spec whose first plan only adopts it."),
    Entry("migrate", "iamlayer.cli.migrate_cmds", "migrate", "Move a layer to another way of giving people access, and prove nobody gains or loses any."),
    Entry("outputs", "iamlayer.cli.secrets_cmds", "outputs", "What each person receives: sign-in URL, encrypted secrets and how to decrypt them."),
    Entry("decrypt", "iamlayer.cli.secrets_cmds", "decrypt", "Decrypt a secret iamlayer encrypted to you (the same as `gpg --decrypt FILE`)."),
    Entry("password", "iamlayer.cli.secrets_cmds", "password", "Console passwords."),
    Entry("access-key", "iamlayer.cli.secrets_cmds", "access_key", "Access keys: rotate (a new key, encrypted), retire (old keys, without a new one)."),
    Entry("offboard", "iamlayer.cli.offboard_cmds", "offboard_cmd", "Remove a person who left, and end the role sessions they still hold."),
    Entry("onboard", "iamlayer.cli.people", "onboard_cmd", "Set yourself up from the access key the operator encrypted to you: profiles and MFA."),
    Entry("credentials", "iamlayer.cli.people", "credentials_group", "A person's own AWS credentials and profiles."),
    Entry("mfa", "iamlayer.cli.people", "mfa_group", "Your MFA device and MFA session."),
    Entry("exec", "iamlayer.cli.people", "exec_cmd", "Run COMMAND with PROFILE's credentials: iamlayer exec acme-apps-prd-devops -- terraform plan."),
    Entry("credential-process", "iamlayer.cli.people", "credential_process_cmd", "Print PROFILE's credentials as credential_process JSON (for `credential_process = ...`)."),
    Entry("whoami", "iamlayer.cli.people", "whoami_cmd", "Which user or role, in which account, your credentials are; MFA session and expiry."),
    Entry("audit", "iamlayer.cli.audit_cmds", "audit_command", "Check the CIS AWS Foundations IAM controls, and iamlayer's own, in every account of the spec."),
    Entry("drift", "iamlayer.cli.drift_cmds", "drift_command", "Plan and audit in one run: has AWS drifted from the spec, and does any control FAIL?"),
    Entry("sts-regions", "iamlayer.cli.audit_cmds", "sts_regions_command", "Which regional STS endpoints to deactivate per account, and the global token version."),
    Entry("access", "iamlayer.cli.access_cmds", "access", "Who may do what: IAM policies evaluated as AWS evaluates them."),
    Entry("sandbox", "iamlayer.cli.sandbox_cmds", "sandbox", "Run the embedded AWS emulator until Ctrl-C, and print how to use it."),
    Entry("demo", "iamlayer.cli.sandbox_cmds", "demo", "Run init, validate, plan, apply and outputs against an emulator it starts, then clean up."),
)  # fmt: skip
