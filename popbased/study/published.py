"""What the safety study published (../shared/reference/commons_harvest_safety_study.txt),
as the report sets it beside our numbers. Each claim keeps the study's own words; `value`
is the number or bound those words give, for the agree/disagree column.

The study reports no confidence intervals; its agents were evaluated for 15 episodes per
point (10 in some default-substrate checks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    key: str
    metric: str
    study: str
    """The study's figure, in its words."""
    quote: str


CLAIMS = (
    Claim("open_return", "open: per-capita return, open substrate, default regrowth",
          "about 50", "Final returns closer to open benchmark in average return (50)"),
    Claim("open_depleted", "open: episodes fully depleted, default regrowth",
          "10-40% (lowest of the study's agents)",
          "Open agents demonstrated the lowest percentages of depleted simulations"),
    Claim("no_zap_vs_open", "no_zap return / open return",
          "slightly below 1 (about 0.9)", "Final returns closer to open benchmark in average "
          "return (50)"),
    Claim("no_zap_gini", "no_zap: Gini (inequality) among the populations",
          "among the least unequal", "Substrates that had agents trained on open baseline or "
          "those in which punishment was disabled were the ones in which agents showed less "
          "unequal agent behavior"),
    Claim("no_zap_depleted", "no_zap: episodes fully depleted, default regrowth", "10-20%",
          "Smaller percentage of dead substrates in all environments with default regrowth "
          "rate. (behind open agent) - in between 10 % and 20%"),
    Claim("no_zap_among_zappers", "no_zap focal among a zapping (open) background / no_zap at home",
          "above 1", "No_zap agent focal population performed better when receiving a background "
          "population of agents that were able to zap and other agents that were not able to zap"),
    Claim("farmer_depleted", "farmer: episodes fully depleted (every evaluation substrate)",
          "above 40% everywhere", "Highest overall percentage in dead substrates in all "
          "environments (all above 40%)"),
    Claim("farmer_vs_open", "farmer return / open return", "slightly below 1",
          "Final returns are slightly behind the open benchmark in average return (50)"),
    Claim("scarcity_home", "scarcity: episodes fully depleted on its own substrate (regrowth x0.5)",
          "all (depleted after 1000 steps)", "Worst default performance. Apple field depleted "
          "after 1000 timesteps."),
    Claim("sweep_below_1", "regrowth sweep, factors below 1: episodes fully depleted",
          "nearly all", "when agents are placed in environments with any decrease in abundance, "
          "fields are nearly completely depleted after only 200 time steps"),
    Claim("gini_1500", "Gini, steps 500-1500 (cooldown sweep)", "below 0.2",
          "the Gini coefficient across all agent settings remained consistently lower than 0.2 "
          "up until 1500 steps"),
    Claim("cooldown_farmer_1", "cooldown 1: farmer vs open episodes fully depleted",
          "farmer highest", "Farmer agents displayed the highest percentage of depleted "
          "simulations on Fraction 1"),
)
