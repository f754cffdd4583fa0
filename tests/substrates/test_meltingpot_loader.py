"""Melting Pot loads without TensorFlow (popbased.substrates.meltingpot_loader)."""


def test_tensorflow_not_imported(tmp_path):
    """In a fresh interpreter (earlier tests in this one may have imported anything): building
    a substrate and playing it, as training processes do, never imports TensorFlow; nor do the
    CLI, the training, league and rollout modules, the doctor, and choosing scenarios and
    checking their bots (only playing a scenario or seating a bot imports it)."""
    import subprocess
    import sys

    code = ("import sys; from popbased import substrates; from popbased.env.pool import BatchedEnv; "
            "env = BatchedEnv(substrates.resolve('no_zap'), 1, backend='inline'); env.reset(); "
            "env.step([0] * env.num_seats); env.close(); "
            "import popbased.cli, popbased.selfplay, popbased.league.run, popbased.league.bots, "
            "popbased.rollout.worker, popbased.evaluation.scenario_results; "
            "from popbased import doctor; from popbased.evaluation import scenario; doctor.report(); "
            "names, _ = scenario.split_args(['commons_harvest__open_0'])\n"
            "try:\n    scenario.check(names, sys.argv[1])\nexcept Exception as err:\n"
            "    print(type(err).__name__)\n"
            "print('tensorflow' in sys.modules, 'meltingpot' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["BadInput", "False", "True"]  # Melting Pot was used, TensorFlow was not


def test_bots_root_is_the_installed_assets_or_a_folder_of_ones_own(tmp_path, monkeypatch):
    """Melting Pot's bot configs name SUBSTRATE/MODEL under their models root; another root
    (--bots-root, else $POPBASED_BOTS_ROOT) is looked up the same way."""
    import pytest

    from popbased.errors import BadInput
    from popbased.substrates import meltingpot_loader as loader

    monkeypatch.delenv(loader.BOTS_ROOT_ENV, raising=False)
    assert loader.bots_root() == (loader.installed_models_root(), "installed assets")
    assert loader.import_module("configs.bots").MODELS_ROOT.rstrip("/") == loader.installed_models_root()
    assert loader.bot_model("commons_harvest__open__free_0") == "commons_harvest__open/free_0"
    for model in ("free_0", "pacifist_1"):
        (tmp_path / "commons_harvest__open" / model).mkdir(parents=True)
        (tmp_path / "commons_harvest__open" / model / "saved_model.pb").write_bytes(b"")
    monkeypatch.setenv(loader.BOTS_ROOT_ENV, str(tmp_path))
    assert loader.bots_root() == (str(tmp_path), loader.BOTS_ROOT_ENV)
    bots = loader.bot_assets()
    assert bots["present"] == ["commons_harvest__open__free_0", "commons_harvest__open__pacifist_1"]
    assert bots["substrates_with_bots_present"] == ["commons_harvest__open"] and bots["bots_known"] > 200
    assert loader.bots_root(tmp_path / "commons_harvest__open")[1] == "--bots-root"  # the flag wins
    with pytest.raises(BadInput, match="--bots-root .*no such folder"):
        loader.bots_root(tmp_path / "nonesuch")
    monkeypatch.setenv(loader.BOTS_ROOT_ENV, str(tmp_path / "nonesuch"))
    assert "no such folder" in loader.bot_assets()["root_error"]  # reported, not raised
