"""Training options are built from the config dataclasses (popbased.cli.options): one source
of defaults and help."""

import dataclasses

import click
import pytest

from popbased.cli import options
from popbased.cli.league import launch
from popbased.cli.pbt import pbt
from popbased.cli.train import train
from popbased.ppo.config import NetConfig
from popbased.env.engines import ENVS, FAST, MELTINGPOT
from popbased.selfplay import TrainConfig

FROM_CONFIG = {"train": ("steps", "members", "overlap", "device", "seed", "workers",
                         "envs_per_worker", "rollout_length", "env", "ray_address"),
               "pbt": ("max_episode_steps", "device", "seed", "workers", "envs_per_worker",
                       "rollout_length", "env", "ray_address"),
               "launch": ("device", "seed", "workers", "envs_per_worker", "rollout_length", "env",
                          "ray_address")}


def _params(command: click.Command) -> dict[str, click.Parameter]:
    return {p.name: p for p in command.params}


def _default(cls, name):
    return {f.name: f for f in dataclasses.fields(cls)}[name].default


def test_field_docs_are_the_strings_after_the_fields():
    docs = options.field_docs(TrainConfig)
    assert docs["steps"] == "Agent-steps to train for (all members together)."
    assert "\n" not in docs["env"] and "  " not in docs["env"]
    assert "ppo" not in docs and "net" not in docs  # fields without a docstring
    assert set(docs) <= {f.name for f in dataclasses.fields(TrainConfig)}
    assert options.field_docs(NetConfig)["lstm"].startswith("LSTM size")


@pytest.mark.parametrize("command", [train, pbt, launch], ids=["train", "pbt", "launch"])
def test_training_options_take_default_and_help_from_the_config(command):
    params = _params(command)
    docs = options.field_docs(TrainConfig)
    for name in FROM_CONFIG[command.name]:
        assert params[name].default == _default(TrainConfig, name), name
        if name != "steps":  # --total-steps says why it is a total (below)
            assert params[name].help == docs[name], name
        assert params[name].show_default == (params[name].default is not None), name
    assert params["lstm"].default == _default(NetConfig, "lstm") == 0
    assert params["lstm"].help == options.field_docs(NetConfig)["lstm"]


def test_types_names_and_engine_defaults_stay():
    params = _params(train)
    assert params["env"].default == "auto" and list(params["env"].type.choices) == list(ENVS)
    assert params["envs_per_worker"].default is None and params["rollout_length"].default is None
    for name in ("steps", "members", "workers", "envs_per_worker", "rollout_length"):
        assert params[name].type.min == 1, name
    assert params["lstm"].type.min == 0 and params["seed"].type is click.INT
    # None = the engine's default, which the help names for both engines
    for name in ("envs_per_worker", "rollout_length"):
        assert f"{MELTINGPOT.shape[name]} on Melting Pot" in params[name].help, name
        assert f"{FAST.shape[name]} on the fast env" in params[name].help, name
    assert params["overlap"].opts == ["--overlap"] and params["overlap"].secondary_opts == ["--no-overlap"]
    assert params["overlap"].default is True
    assert params["steps"].opts == ["--total-steps"]
    assert "all members together: the run's total budget" in params["steps"].help


def test_defaults_and_choices_are_read_from_the_source_as_the_library_has_them():
    """The CLI reads config defaults and choice lists from the library's source without
    importing it (start-up); they are what importing it gives."""
    from popbased.export.champion import BY, FORMATS

    for cls in (TrainConfig, NetConfig):
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING and not dataclasses.is_dataclass(field.default):
                assert options.field_default(cls, field.name) == field.default, field.name
    assert options.module_constant("popbased.export.champion", "FORMATS") == FORMATS
    assert options.module_constant("popbased.export.champion", "BY") == BY


def test_no_overlap_still_turns_overlap_off(monkeypatch, tmp_path):
    import importlib

    from click.testing import CliRunner

    from popbased.cli import cli

    train_cli = importlib.import_module("popbased.cli.train")  # the module (cli.train: the command)
    plan = importlib.import_module("popbased.run.plan")

    seen = []

    def stop(config, on_round):
        seen.append(config)
        return {"agent_steps": 0, "checkpoints": {"m0": "m0.pt"}}

    monkeypatch.setattr(plan, "train", stop)
    monkeypatch.setattr(train_cli.options, "stop_on_sigterm", lambda: None)  # keep pytest's
    for n, (flag, overlap) in enumerate(((["--no-overlap"], False), ([], True), (["--overlap"], True))):
        result = CliRunner().invoke(cli, ["train", "open", "--total-steps", "10", "--device", "cpu",
                                          "--out", str(tmp_path / f"x{n}"), "--json", *flag])
        assert result.exit_code == 0, result.output
        assert seen[-1].overlap is overlap and seen[-1].steps == 10
