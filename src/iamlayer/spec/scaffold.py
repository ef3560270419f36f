"""`iamlayer init DIR`: a working, commented example layer to start from.

The scaffold is the five-account layout of an AWS Organization (management, security as the
people account, shared, apps-devstg, apps-prd) with four roles, four groups, a person and a
machine user. With `example_keys`, it also generates throwaway OpenPGP keys for the two users so
the example validates, plans and applies end to end (e.g. against the sandbox) before any real
key exists: a Curve25519 key in armored form and an RSA key in base64-of-binary form, the two
forms people export (`gpg --export --armor`, `gpg --export | base64`).

It also writes a .gitignore for what must not be shared through git (GITIGNORE): iamlayer's local
state, the example keys' secret halves and MFA QR codes. A .gitignore already there is kept, with
only the missing lines appended.
"""

from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path
from typing import Final

from iamlayer.errors import IamlayerError
from iamlayer.files import write_atomic
from iamlayer.secrets.examplekeys import EXAMPLE_KEY_COMMENT, generate_example_key
from iamlayer.spec.load import DEFAULT_SPEC_FILE

#: template name -> path written, relative to the target folder
_TEMPLATES: Final = {
    "iamlayer.yaml": DEFAULT_SPEC_FILE,
    "README.md": "README.md",
    "keys-README.md": "keys/README.md",
}
_SECRET_README: Final = ("example-secret-keys-README.md", "example-secret-keys/README.md")

#: example key name -> (user id, cipher suite, public key form)
EXAMPLE_KEYS: Final = {
    "jane.doe": (f"Jane Doe ({EXAMPLE_KEY_COMMENT}) <jane.doe@example.com>", "Cv25519", "armored"),
    "machine.infra": (
        f"machine.infra ({EXAMPLE_KEY_COMMENT}) <machine.infra@example.com>",
        "RSA3k",
        "base64",
    ),
}


#: (why, pattern) for each line of the layer's .gitignore. outputs/ is not among them: the
#: ciphertexts in it are meant to be shared with the team, each readable only by its owner.
GITIGNORE: Final = (
    ("iamlayer's state on this machine (locks, journal): each clone has its own", ".iamlayer/"),
    ("the example keys' secret halves: throwaway, never to be shared", "example-secret-keys/"),
    ("QR codes of MFA devices hold the device's secret (iamlayer mfa enable --png FILE)", "mfa-*.png"),
)


def update_gitignore(target: Path) -> bool:
    """Add GITIGNORE's missing patterns to `target`/.gitignore (created if absent); never remove or
    reorder a line. An existing pattern counts with or without its slashes. True if written."""
    path = target / ".gitignore"
    old = path.read_text("utf-8") if path.exists() else ""
    have = {line.strip().strip("/") for line in old.splitlines()}
    missing = [(why, pattern) for why, pattern in GITIGNORE if pattern.strip("/") not in have]
    if not missing:
        return False
    lines = ["" if not old else "\n" if old.endswith("\n") else "\n\n"]
    lines.append("# Written by `iamlayer init`: what this layer folder must not share through git.\n")
    for why, pattern in missing:
        lines.append(f"# {why}\n{pattern}\n")
    write_atomic(path, (old + "".join(lines)).encode("utf-8"))
    return True


def _template(name: str, *, example_keys: bool = True) -> bytes:
    text = (resources.files("iamlayer") / "spec" / "templates" / name).read_text("utf-8")
    return render_template(text, example_keys=example_keys, comment_out=name.endswith(".yaml")).encode()


def render_template(text: str, *, example_keys: bool, comment_out: bool) -> str:
    """A template with its example-keys regions settled; the marker lines never appear.

    `#{example-keys}` ... `#{end}` holds what needs the example keys (the example users, checks
    naming them, the example-secret-keys/ folder): kept with them; without them commented out
    (`comment_out`, so a spec still shows the example) or dropped. `#{no-example-keys}` ...
    `#{end}` holds what is said only without them.
    """
    out: list[str] = []
    region: str | None = None
    for line in text.splitlines(keepends=True):
        marker = line.strip()
        if marker in ("#{example-keys}", "#{no-example-keys}"):
            region = marker[2:-1]
            continue
        if marker == "#{end}":
            region = None
            continue
        if region is None or (region == "example-keys") == example_keys:
            out.append(line)
        elif region == "example-keys" and comment_out:
            out.append("# " + line if line.strip() else line)
    return "".join(out)


def scaffold(target_dir: Path, *, example_keys: bool = True) -> list[Path]:
    """Write an example layer into `target_dir` (created if needed); return the files written.

    Refuses (IamlayerError) when `target_dir` already has an iamlayer.yaml, or any other file it
    would write: it never overwrites someone's spec or keys. A .gitignore is the exception: the
    missing lines are appended to it (`update_gitignore`).
    """
    target = Path(target_dir)
    if (target / DEFAULT_SPEC_FILE).exists():
        raise IamlayerError(
            f"{target / DEFAULT_SPEC_FILE} already exists; iamlayer init never overwrites a spec"
        )
    planned = [target / rel for rel in _TEMPLATES.values()]
    if example_keys:
        planned += [target / "keys" / name for name in EXAMPLE_KEYS]
        planned += [target / "example-secret-keys" / f"{name}.asc" for name in EXAMPLE_KEYS]
        planned.append(target / _SECRET_README[1])
    existing = [str(p) for p in planned if p.exists()]
    if existing:
        raise IamlayerError(f"iamlayer init would overwrite: {', '.join(existing)}; move them away first")

    (target / "keys").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, rel in _TEMPLATES.items():
        if rel == DEFAULT_SPEC_FILE:
            continue  # written last: a spec only appears once its keys are in place
        write_atomic(target / rel, _template(name, example_keys=example_keys))
        written.append(target / rel)
    if example_keys:
        written += _write_example_keys(target)
    if update_gitignore(target):
        written.append(target / ".gitignore")
    write_atomic(target / DEFAULT_SPEC_FILE, _template("iamlayer.yaml", example_keys=example_keys))
    written.append(target / DEFAULT_SPEC_FILE)
    return written


def _write_example_keys(target: Path) -> list[Path]:
    secret_dir = target / "example-secret-keys"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    secret_dir.chmod(0o700)
    written: list[Path] = []
    for name, (user_id, suite, form) in EXAMPLE_KEYS.items():
        key = generate_example_key(user_id, suite)
        public = key.public_armored if form == "armored" else _base64_lines(key.public)
        write_atomic(target / "keys" / name, public)
        write_atomic(secret_dir / f"{name}.asc", key.secret_armored, mode=0o600)
        written += [target / "keys" / name, secret_dir / f"{name}.asc"]
    readme = secret_dir / "README.md"
    write_atomic(readme, _template(_SECRET_README[0]))
    written.append(readme)
    return written


def _base64_lines(data: bytes) -> bytes:
    """Base64 wrapped at 76 columns, as `gpg --export NAME | base64` writes it."""
    text = base64.b64encode(data).decode("ascii")
    return ("\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\n").encode("ascii")
