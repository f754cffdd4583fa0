"""private_property: walls fence the apple fields into one private plot per player."""

DESCRIPTION = "walled private plot per player, each with its own apple patch"
DEFAULTS: dict = {}
FIXED = {"map": "private_property"}
