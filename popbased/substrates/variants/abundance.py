"""abundance: apple regrowth probabilities doubled."""

DESCRIPTION = "apple regrowth x2"
DEFAULTS = {"regrowth": 2.0}
FIXED: dict = {}
