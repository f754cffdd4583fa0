"""zap_cooldown: a longer wait between zaps (the study used 1, 2, 10, 200, 2000)."""

DESCRIPTION = "zap cooldown (Melting Pot cooldownTime; stock 2), default 10"
DEFAULTS = {"zap_cooldown": 10}
FIXED: dict = {}
