"""The learning-curve tooling reads a real metrics.jsonl layout and plots it."""

import json

from popbased.bench.learning import curve, plot, summarize


def test_curve_summary_and_plot(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = []
    for r in range(1, 41):
        episodes = [{"per_capita_return": 20.0 + r, "gini": 0.2, "steps": 1000,
                     "depleted": r > 30, "members": ["m0"] * 7}]
        rows.append({"agent_steps": 7000 * r, "elapsed_s": 1.5 * r, "episode_summaries": episodes})
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    points = curve(path, window=10)
    assert len(points["smoothed"]) == 40 and points["smoothed"][-1] == sum(range(51, 61)) / 10
    summary = summarize(points, baseline=33.0)
    assert summary["final_depleted_fraction"] == 1.0
    assert summary["best_at_agent_steps"] == 7000 * 40
    # first 10-episode mean above 1.25 x 33 = 41.25: episodes 17..26 -> mean 41.5 at r = 26
    assert summary["first_above_1.25x_random"]["agent_steps"] == 7000 * 26
    plot({"run": points}, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 10_000
