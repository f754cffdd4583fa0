"""scarcity: apple regrowth probabilities halved (the study's scarcity agent used x0.5)."""

DESCRIPTION = "apple regrowth x0.5"
DEFAULTS = {"regrowth": 0.5}
FIXED: dict = {}
