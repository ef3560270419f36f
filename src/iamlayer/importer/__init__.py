"""Adopt what exists: turn a live organization, or a Terraform layer, into a spec that plans clean.

    readers   live.py (AWS, through the same bulk reads as plan) and terraform.py (a state file,
              format version 4, and optionally the layer's folder) produce an `ImportSource`:
              each account's state in the live state's vocabulary (`AccountState`), the PGP keys
              and ciphertexts they know of, and what they could not read or model
    build.py  `ImportSource` -> a `Spec` (the model `load_spec` produces) and an `ImportReport`:
              account names, the people account, roles merged across accounts, trust policies of
              iamlayer's shape recognised, everything else kept verbatim
    writer.py the Spec -> a commented iamlayer.yaml in the shape `iamlayer init` writes; the
              report -> IMPORT.md
    run.py    the two imports end to end: read, build, write DIR/iamlayer.yaml, DIR/IMPORT.md,
              DIR/keys/ and DIR/outputs/, then load the written spec back to prove it valid

Nothing here writes to AWS. The adoption itself is planned (Action.ADOPT, iamlayer.plan.diff) and
applied like any other change: `adopt: true` in the written spec lets apply add iamlayer's
ownership marker to what exists, and nothing else.
"""
