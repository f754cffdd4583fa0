"""The private_property map: one walled plot per player (its behaviour: test_variants.py)."""

from popbased.substrates import private_property


def test_private_property_map_has_one_walled_plot_per_player():
    rows = private_property.ascii_map(3).strip("\n").split("\n")
    assert all(len(r) == len(rows[0]) for r in rows)
    for plot in range(3):
        wall_col = (plot + 1) * (private_property.PLOT_WIDTH + 1)
        assert all(r[wall_col] == "W" for r in rows)
    assert sum(r.count("A") for r in rows) == 3 * 12
