"""no_zap: punishment removed from the action space (FIRE_ZAP dropped)."""

DESCRIPTION = "zap action removed from the action space"
DEFAULTS: dict = {}
FIXED = {"no_zap": True}
