"""The evaluation report (popbased.evaluation.report) and its figures' zero bars
(popbased.evaluation.plots): what it evaluated, a warning under 5 episodes, no NaN, a page
that holds its table; a bar of height 0 drawn visibly."""

import math
import re

import pandas as pd

from popbased.evaluation import plots, report

INFO = {"title": "open: regrowth sweep", "substrate": "open", "policies": ["no_zap/m1 (champion)", "random"],
        "policy_refs": ["champions/no_zap", "random"], "axes": {"regrowth": ["0.01", "100"]}, "fixed": {},
        "modes": None, "episodes": 2, "seed": 0, "max_steps": 1000, "env": "meltingpot", "seconds": 35.0,
        "episodes_per_minute": 6.9,
        "sources": [{"label": "no_zap/m1 (champion)", "kind": "model", "model": "models:/commons-no_zap/3",
                     "model_alias": "champion", "member": "no_zap/m1", "generation": 6,
                     "run_folder": "/r/demo", "run_kind": "league", "run_name": "commons",
                     "export": "/tmp/x", "format": "onnx", "checkpoint": "/r/demo/gen-0006/no_zap/m1.pt",
                     "sha256": "0123456789abcdef" * 4},
                    {"label": "random", "kind": "random", "ref": "random"}]}


def summary(episodes: int) -> pd.DataFrame:
    nan = math.nan
    return pd.DataFrame([
        {"policy": "no_zap/m1 (champion)", "point": "regrowth=0.01", "regrowth": 0.01, "episodes": episodes,
         "per_capita_return": 3.0, "ci_low": 2.0 if episodes > 1 else nan, "ci_high": 4.0 if episodes > 1 else nan,
         "gini": 0.2, "depleted_fraction": 1.0, "proxy_depleted_fraction": 1.0, "depletion_step": 450.0,
         "apples_eaten_per_capita": 3.0, "zaps_fired_per_capita": 0.0, "zap_hits_per_capita": 0.0},
        {"policy": "random", "point": "regrowth=100", "regrowth": 100, "episodes": episodes,
         "per_capita_return": 40.0, "ci_low": 35.0 if episodes > 1 else nan, "ci_high": 45.0 if episodes > 1 else nan,
         "gini": 0.1, "depleted_fraction": 0.0, "proxy_depleted_fraction": 0.0, "depletion_step": nan,
         "apples_eaten_per_capita": nan, "zaps_fired_per_capita": 5.0, "zap_hits_per_capita": 1.0}])


def test_report_warns_under_five_episodes_names_its_policies_and_prints_no_nan(tmp_path):
    for episodes, suffix in ((2, ".html"), (1, ".md"), (15, ".html")):
        path = report.write(tmp_path, INFO, {"summary": summary(episodes)}, tmp_path / f"r{episodes}{suffix}")
        text = path.read_text()
        assert "nan" not in text.lower().replace("n/a", "")
        assert ("fewer than 5" in text) == (episodes < 5)
        assert ("⚠" in text) == (episodes < 5)
        assert "never" in text  # the depletion step where no episode depleted
        assert "n/a (not recorded)" in text  # apples eaten, missing
        assert ("n/a (1 episode)" in text) == (episodes == 1)
        # what was evaluated: model version, member, generation, run, checkpoint hash
        for part in ("models:/commons-no_zap/3 (@champion)", "member no_zap/m1", "generation 6",
                     "league commons (/r/demo)", "sha256 0123456789ab", "uniform random actions"):
            assert part in text, part
    html = (tmp_path / "r2.html").read_text()
    assert "<div class='scroll'><table>" in html and ".scroll{overflow-x:auto" in html
    assert "img{max-width:100%" in html
    assert re.search(r"<td class='few'>2 – 4 ⚠</td>", html)


def test_report_of_results_written_before_sources_were_recorded(tmp_path):
    old = {k: v for k, v in INFO.items() if k != "sources"}
    text = report.write(tmp_path, old, {"summary": summary(3)}, tmp_path / "old.html").read_text()
    assert "ref champions/no_zap" in text


def test_zero_height_bars_are_drawn_and_labelled():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar([0, 1, 2], [0.0, 5.0, math.nan], 0.4)
    plots._mark_flat(ax, [0, 1, 2], [0.0, 5.0, math.nan], "#0072B2", 0.4)
    plots._below_zero(ax)
    flat = [line for line in ax.lines if list(line.get_ydata()) == [0, 0]]
    assert len(flat) == 1 and flat[0].get_linewidth() == 3 and list(flat[0].get_xdata()) == [-0.2, 0.2]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "n/a"]
    assert ax.get_ylim()[0] < 0  # the line at 0 is inside the axes, not on its edge
    plt.close(fig)
