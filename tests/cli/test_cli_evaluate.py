"""`popbased evaluate`: bad evaluations are one line, exit 2; scenarios are checked and say how
to get the bots."""

import pytest

from conftest import invoke, one_line_error, popbased


@pytest.mark.parametrize("args, text", [
    (("sweep", "regrowth", "nonesuch.pt"), "policy 'nonesuch.pt': no such file: nonesuch.pt; allowed: random"),
    (("run", "nope.pt", "random"), "no such file: nope.pt"),
    (("run", "no/such/m0", "random"), "policy 'no/such/m0': no such file or folder: no/such/m0; allowed: random"),
    (("sweep", "respawn", "random"), "choose regrowth or cooldown"),
    (("sweep", "regrowth", "random", "--values", "0.1,-3"), "regrowth=-3.0"),
    (("sweep", "regrowth", "random", "--values", ","), "empty grid"),
    (("sweep", "cooldown", "random", "--substrate", "no_zap"), "cannot combine"),
    (("run", "random", "--grid", "regrowth="), "empty grid"),
    (("run",), "at least one policy"),
    (("run", "bots"), "bots are not yet playable"),
    (("run", "scripted:nope"), "policy 'scripted:nope': no such scripted policy; allowed: scripted:sustainable, "
                               "scripted:greedy"),
])
def test_bad_evaluations_are_one_line_exit_2(tmp_path, args, text):
    result = popbased(tmp_path, "evaluate", *args, "-o", "out")
    one_line_error(result, text)
    assert not (tmp_path / "out").exists()


def test_bad_policies_are_one_line_exit_2(tmp_path, monkeypatch):
    # in this process (quick): the same policy twice, a model reference that is not one, a
    # registered model looked up where there is no store
    monkeypatch.chdir(tmp_path)
    for args, text in ((("random", "random"), "the same policy twice"),
                       (("models:/nonesuch",), "expected models:/NAME@ALIAS"),
                       (("models:/nonesuch@champion",), "no MLflow store at")):
        result = invoke("evaluate", "run", *args, "-o", "out")
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and text in lines[0], result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


def test_scenarios_are_checked_and_say_how_to_get_the_bots(tmp_path):
    from popbased.substrates import meltingpot_loader

    one_line_error(popbased(tmp_path, "evaluate", "scenario", "commons_harvest_open_0", "random", "-o", "o"),
                   "did you mean commons_harvest__open_0?")
    if not meltingpot_loader.bot_assets()["present"]:  # no bots here: one line saying what to add
        one_line_error(popbased(tmp_path, "evaluate", "scenario", "commons_harvest__open_0", "random",
                                "-o", "o"), "POPBASED_MELTINGPOT_ASSETS=")
