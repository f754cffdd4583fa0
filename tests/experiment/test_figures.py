"""popbased.experiment.figures: the IQM intervals and the performance profile are written as
PNGs from stats' results (few bootstrap replications: quick)."""

import numpy as np
import pytest

from popbased.experiment import figures, stats

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(3)
    scores = {"pbt": rng.normal(0.6, 0.2, 6), "random search": rng.normal(0.5, 0.2, 6), "grid": [0.7, 0.72]}
    return (stats.aggregate(scores, reps=100),
            stats.performance_profile(scores, np.linspace(0, 1.2, 25), reps=100))


def test_draw_writes_both_pngs(tmp_path, results):
    estimates, profiles = results
    paths = figures.draw(estimates, profiles, tmp_path / "figures")
    assert [p.name for p in paths] == ["intervals.png", "performance_profile.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_intervals_of_every_aggregate_and_one_arm(tmp_path, results):
    estimates, _ = results
    path = figures.intervals_png(estimates, tmp_path / "all.png", metrics=("iqm", "mean", "median"))
    assert path.read_bytes()[:8] == PNG
    one = figures.intervals_png({"pbt": estimates["pbt"]}, tmp_path / "one.png")
    assert one.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="has no optimality_gap"):
        figures.intervals_png(estimates, tmp_path / "x.png", metrics=("optimality_gap",))
