"""The fast-env benchmark (popbased.bench.fastenv), as a smoke test."""

from popbased.bench.fastenv import bench_fast


def test_bench_fast_smoke():
    row = bench_fast("open", 4, 0.2, 0.05, "cpu")
    assert row["batch"] == 4 and row["steps"] >= 3 and row["agent_steps_per_s"] > 0
    assert set(row["ms_per_part"]) == {"world_step", "rewards_metrics", "episode_ends", "views"}
    assert 1000 < row["state_bytes_per_world"] < 100_000


def test_bench_fastenv_without_raw_melting_pot(tmp_path):
    """--no-raw: the fast env alone (no raw Melting Pot pass, no ratios), its JSON written."""
    import json

    from click.testing import CliRunner

    from popbased.bench.fastenv import main

    out = tmp_path / "fastenv.json"
    result = CliRunner().invoke(main, ["--no-raw", "--batch-sizes", "2", "--seconds", "0.2",
                                       "--warmup", "0.05", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "raw Melting Pot" not in result.output
    data = json.loads(out.read_text())
    assert data["raw"] is None and data["fast"][0]["ratio_to_raw"] is None
    assert data["fast"][0]["parts_synchronised"] is False  # a CPU: one pass, nothing to wait for
