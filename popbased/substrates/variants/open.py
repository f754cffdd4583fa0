"""open: the stock commons_harvest__open game, the study's baseline."""

DESCRIPTION = "stock commons_harvest open map (the baseline)"
DEFAULTS: dict = {}
FIXED: dict = {}
