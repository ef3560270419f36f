"""iamlayer: your AWS identities layer as code."""

__version__ = "0.1.0"
