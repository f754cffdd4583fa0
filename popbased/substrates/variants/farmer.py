"""farmer: an extra reward for apples in the player's view (rewards letting the field regrow).

The study found its farmer reward too small to matter and proposed an order of
magnitude more. The default, 0.001 per apple in view per step, adds about as much
over an episode as the harvest itself (~20 apples in view for ~1,600 steps is ~32);
tune it with `farmer_weight=` (PBT can evolve it as a shaping weight).
"""

DESCRIPTION = "reward component for apples in view (farmer_weight per apple per step)"
DEFAULTS = {"farmer_weight": 0.001}
FIXED: dict = {}
