"""What the study's evaluations say: the study-vs-ours table (each published claim beside
our estimate and its interval, with a verdict), the ablation (which training wins on each
objective) and the replication's goals (`goals`: the open champion's return, its margin over
random play, its depletion; scarcity and low regrowth depleting less than the study found). All
numbers come from real-Melting-Pot evaluations."""

from __future__ import annotations

import math
from typing import Any

from popbased.study.numbers import NONE, Estimate, Evaluations, ratio, share
from popbased.study.published import CLAIMS

POPULATIONS = ("open", "no_zap", "farmer", "scarcity")
ABLATION = ("open", "ppo_selfish", "ppo_collective", "ppo_last_apples")
GINI_FROM = 500
"""The study's Gini claim is read after the episode's first, steep drop (its Fig. 4: "the Gini
coefficients initially dropped quickly with timesteps"): from this step to 1500."""
OBJECTIVES = (("return", "per-capita return", True), ("depleted", "episodes fully depleted", False),
              ("gini", "Gini", False))


def _share_verdict(e: Estimate, low: float, high: float) -> str:
    if math.isnan(e.value):
        return "not measured"
    if e.high < low:
        return "ours fewer"
    if e.low > high:
        return "ours more"
    if e.value < low:
        return "ours fewer, but the CI reaches the study's range"
    if e.value > high:
        return "ours more, but the CI reaches the study's range"
    return "agrees"


def _ratio_verdict(e: Estimate, below: str, study: float = 0.9) -> str:
    """The study's `below / open` was a little under 1 (about `study`)."""
    if math.isnan(e.value):
        return "not measured"
    if e.low > 1:
        return f"disagrees ({below} above open)"
    if e.high < study - 0.1:
        return f"same direction, far larger gap ({below} well below open)"
    if e.high < 1:
        return f"agrees ({below} a little below open)"
    return "no clear difference (CI spans 1)"


def _home_returns(ev: Evaluations, run: str):
    eps = ev.episodes("home", run)
    return None if eps is None else eps["per_capita_return"].to_numpy(float)


def claims(ev: Evaluations) -> list[dict[str, Any]]:
    rows = []
    home = {p: ev.measures("home", p) for p in POPULATIONS}

    def row(key: str, ours: Estimate, verdict: str, percent: bool = False, note: str = "",
            fmt: str = ".1f"):
        claim = next(c for c in CLAIMS if c.key == key)
        rows.append({"key": key, "metric": claim.metric, "study": claim.study, "quote": claim.quote,
                     "ours": ours.text(fmt, percent) + (f" {note}" if note else ""),
                     "ci": ours.ci(fmt, percent), "verdict": verdict, "estimate": ours})

    e = home["open"]["return"]
    row("open_return", e, "not measured" if math.isnan(e.value) else
        "ours higher" if e.low > 50 else "ours lower" if e.high < 50 else "agrees")
    row("open_depleted", home["open"]["depleted"], _share_verdict(home["open"]["depleted"], .1, .4),
        percent=True, fmt=".0f", note=_proxy(home["open"]))
    for key, pop in (("no_zap_vs_open", "no_zap"), ("farmer_vs_open", "farmer")):
        a, b = _home_returns(ev, pop), _home_returns(ev, "open")
        e = ratio(a, b) if a is not None and b is not None else NONE
        row(key, e, _ratio_verdict(e, pop), fmt=".2f")
    ginis = {p: home[p]["gini"] for p in POPULATIONS if not math.isnan(home[p]["gini"].value)}
    ranked = sorted(ginis, key=lambda p: ginis[p].value)
    g = ginis.get("no_zap", NONE)
    row("no_zap_gini", g, "not measured" if "no_zap" not in ginis else
        f"agrees (rank {ranked.index('no_zap') + 1} of {len(ranked)}, lowest first)"
        if ranked.index("no_zap") < 2 else
        f"disagrees (rank {ranked.index('no_zap') + 1} of {len(ranked)}, lowest first)", fmt=".3f")
    row("no_zap_depleted", home["no_zap"]["depleted"],
        _share_verdict(home["no_zap"]["depleted"], .1, .2), percent=True, fmt=".0f",
        note=_proxy(home["no_zap"]))
    home_nz = _home_returns(ev, "no_zap")
    among = {}
    for mode in ("visitor", "resident"):
        eps = ev.episodes("matrix", "no_zap", mode=mode, background_run="open")
        among[mode] = (ratio(eps["focal_return"], home_nz) if eps is not None and home_nz is not None
                       else NONE)
    e, r = among["visitor"], among["resident"]
    row("no_zap_among_zappers", e, "not measured" if math.isnan(e.value) else
        "agrees" if e.low > 1 else "disagrees" if e.high < 1 else "no clear difference (CI spans 1)",
        note=f"(1 no_zap visitor among 6 open; as 6 residents with 1 open: {r.text('.2f')} "
             f"{r.ci('.2f')})" if not math.isnan(e.value) else "", fmt=".2f")
    per_kind = {kind: ev.measures(kind, "farmer")["depleted"]
                for kind in ("home", "scarcity", "private_property")}
    per_kind = {k: v for k, v in per_kind.items() if not math.isnan(v.value)}
    parts = [f"{k} {v.text('.0f', True)} {v.ci('.0f', True)}" for k, v in per_kind.items()]
    highest = max(per_kind.values(), key=lambda v: v.value) if per_kind else NONE
    verdicts = {k: "fewer" if v.high < .4 else "more" if v.low > .4 else "unclear"
                for k, v in per_kind.items()}
    row("farmer_depleted", highest, "not measured" if not per_kind else
        "ours fewer in every evaluation" if set(verdicts.values()) == {"fewer"} else
        "agrees (above 40% in every evaluation)" if set(verdicts.values()) == {"more"} else
        "mixed: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()), percent=True,
        note=f"(highest; {'; '.join(parts)})", fmt=".0f")
    e = ev.measures("scarcity", "scarcity")["depleted"]
    row("scarcity_home", e, "not measured" if math.isnan(e.value) else
        "ours fewer" if e.high < .9 else "agrees", percent=True, fmt=".0f")
    below = [p for p in ev.points("regrowth_sweep") if _factor(p) < 1]
    flags, parts = [], []
    for point in below:
        eps = ev.episodes("regrowth_sweep", "open", point)
        if eps is not None:
            flags += eps["depleted"].tolist()
            parts.append(f"x{_factor(point):g}: {share(eps['depleted'].tolist()).text('.0f', True)} "
                         f"(proxy {share(eps['proxy_depleted'].tolist()).text('.0f', True)})")
    e = share(flags)
    row("sweep_below_1", e, "not measured" if math.isnan(e.value) else
        "ours fewer (world count; the study's proxy also fires when players stop eating)"
        if e.high < .9 else "agrees", percent=True,
        note=f"(open champion; {'; '.join(parts)})" if parts else "", fmt=".0f")
    worst, where = NONE, ""
    for run in ev.runs("cooldown_sweep"):
        for point in ev.points("cooldown_sweep"):
            for step in range(GINI_FROM, 1501, 100):
                g = ev.gini_at("cooldown_sweep", run, step, point)
                if g.n < 5:  # too few episodes reached this step for an interval
                    continue
                if math.isnan(worst.value) or g.value > worst.value:
                    worst, where = g, f"{run}, {point}, step {step}"
    row("gini_1500", worst, "not measured" if math.isnan(worst.value) else
        "agrees" if worst.high < .2 else "ours higher" if worst.low > .2 else "unclear (CI spans 0.2)",
        note=f"(highest mean over steps {GINI_FROM}-1500: {where})" if where else "", fmt=".3f")
    f1 = ev.measures("cooldown_sweep", "farmer", "zap_cooldown=1")["depleted"]
    o1 = ev.measures("cooldown_sweep", "open", "zap_cooldown=1")["depleted"]
    row("cooldown_farmer_1", f1, "not measured" if math.isnan(f1.value) or math.isnan(o1.value) else
        "agrees" if f1.low > o1.high else "disagrees (no clear difference)" if f1.high >= o1.low
        else "disagrees (farmer fewer)", percent=True,
        note=f"(open {o1.text('.0f', True)} {o1.ci('.0f', True)})", fmt=".0f")
    return rows


def _proxy(m) -> str:
    """The study's own depletion test (no reward for 50 steps) beside the world's apple count."""
    return f"(proxy {m['proxy'].text('.0f', True)})" if not math.isnan(m["proxy"].value) else ""


def _factor(point: str) -> float:
    try:
        return float(point.split("=", 1)[1])
    except (IndexError, ValueError):
        return math.nan


def ablation(ev: Evaluations) -> dict[str, Any]:
    """The open-trained runs on open, and the winner of each objective (clear when its CI
    does not overlap the runner-up's)."""
    table = {run: ev.measures("home", run) for run in ABLATION if ev.episodes("home", run) is not None}
    winners = {}
    for key, label, higher in OBJECTIVES:
        known = [r for r in table if not math.isnan(table[r][key].value)]
        if len(known) < 2:
            continue
        ranked = sorted(known, key=lambda r: table[r][key].value, reverse=higher)
        best, second = table[ranked[0]][key], table[ranked[1]][key]
        clear = best.low > second.high if higher else best.high < second.low
        tied = [r for r in ranked if table[r][key].value == best.value]
        winners[key] = {"label": label, "winner": " = ".join(tied) if len(tied) > 1 else ranked[0],
                        "clear": bool(clear) and len(tied) == 1,
                        "runner_up": None if len(tied) > 1 else ranked[1]}
    return {"table": table, "winners": winners}


def goals(ev: Evaluations) -> list[dict[str, Any]]:
    home = ev.measures("home", "open")
    rand = ev.measures("home", "random")
    out = [{"goal": "open champion: per-capita return >= 50", "ours": home["return"].text(),
            "ci": home["return"].ci(), "met": home["return"].value >= 50},
           {"goal": "open champion: 95% CI above random play's",
            "ours": f"{home['return'].ci()} vs random {rand['return'].ci()}", "ci": "",
            "met": home["return"].low > rand["return"].high},
           {"goal": "open champion: at most 10% of episodes fully depleted",
            "ours": home["depleted"].text(".0f", True), "ci": home["depleted"].ci(".0f", True),
            "met": home["depleted"].value <= 0.1}]
    s = ev.measures("scarcity", "open")["depleted"]
    below = [p for p in ev.points("regrowth_sweep") if _factor(p) < 1]
    sweep = {p: ev.measures("regrowth_sweep", "open", p)["depleted"] for p in below}
    text = "; ".join(f"x{_factor(p):g} {e.text('.0f', True)}" for p, e in sweep.items())
    out.append({"goal": "scarcity (x0.5) and every sweep factor below 1: fewer depleted episodes "
                        "than the study's (nearly all)",
                "ours": f"scarcity {s.text('.0f', True)}; {text}", "ci": "",
                "met": (not math.isnan(s.value) and s.high < 0.9 and bool(sweep)
                        and all(e.high < 0.9 for e in sweep.values()))})
    measured = [not math.isnan(home["return"].value), not math.isnan(rand["return"].value)
                and not math.isnan(home["return"].value), not math.isnan(home["depleted"].value),
                not math.isnan(s.value) and bool(sweep)]
    for g, known in zip(out, measured):
        g["met"] = bool(g["met"]) if known else None
    return out
