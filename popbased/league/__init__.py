"""Leagues: populations that are focal and background for each other (spec: league files;
arena: the world every match is played in; matchmaking: who meets whom; payoff: the payoff
table and league scores; run: the generation loop on the generation engine; audit: is a
league folder consistent after kills and resumes; report: tables and lines for people)."""
