"""Moving a layer's people to another way of access, with proof that nobody gains or loses any.

- `iamlayer.migrate.run.migrate_identity_center`: `iamlayer migrate identity-center` (issue 24);
- pure parts: `proposal` (what to add to the spec), `parity` (reach before and after, from the
  evaluator), `retire` (the IAM users' retirement plan); `textedit` writes a proposal into the
  spec's own text.

Nothing is imported here, so that importing a pure part loads no more than it needs.
"""
