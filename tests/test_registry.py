from popbased import substrates
from popbased.substrates.meltingpot_loader import import_module
from popbased.substrates import private_property


def test_registry_sorted_and_complete():
    names = substrates.names()
    assert names == sorted(names)
    stock = import_module("configs.substrates").SUBSTRATES
    assert set(stock) <= set(names)
    for variant in ("open", "no_zap", "farmer", "scarcity", "abundance", "private_property",
                    "zap_cooldown"):
        assert substrates.entry(variant).kind == "variant"
    assert substrates.entry("commons_harvest__partnership").kind == "commons"
    assert substrates.entry("clean_up").kind == "stock"


def test_no_zap_drops_only_fire_zap():
    open_spec = substrates.resolve("open")
    no_zap = substrates.resolve("no_zap")
    assert "FIRE_ZAP" in open_spec.action_names
    assert no_zap.action_names == tuple(a for a in open_spec.action_names if a != "FIRE_ZAP")


def test_private_property_map_has_one_walled_plot_per_player():
    rows = private_property.ascii_map(3).strip("\n").split("\n")
    assert all(len(r) == len(rows[0]) for r in rows)
    for plot in range(3):
        wall_col = (plot + 1) * (private_property.PLOT_WIDTH + 1)
        assert all(r[wall_col] == "W" for r in rows)
    assert sum(r.count("A") for r in rows) == 3 * 12


def test_tensorflow_not_imported():
    """In a fresh interpreter (earlier tests in this one may have imported anything): building
    a substrate and playing it, as training processes do, never imports TensorFlow."""
    import subprocess
    import sys

    code = ("import sys; from popbased import substrates; from popbased.env.pool import BatchedEnv; "
            "env = BatchedEnv(substrates.resolve('no_zap'), 1, backend='inline'); env.reset(); "
            "env.step([0] * env.num_seats); env.close(); "
            "print('tensorflow' in sys.modules, 'meltingpot' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]  # Melting Pot was used, TensorFlow was not
