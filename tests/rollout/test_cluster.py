"""Ray (popbased.rollout.cluster): a league on a cluster started with `ray start`, training that
joins the session's Ray from another process, an unreachable address as one line."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from popbased.cli import cli

from conftest import popbased_argv, tiny_league, train_argv


@pytest.fixture(scope="module")
def loopback_cluster():
    """`ray start --head` on loopback plus a second node process (1 CPU each), shared by the
    tests here; yields (address, the environment to run its clients in)."""
    ray_bin = Path(sys.executable).parent / "ray"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}  # loopback only
    temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # Ray's socket paths must stay short
    address = f"127.0.0.1:{port}"
    try:
        head = subprocess.run([ray_bin, "start", "--head", "--node-ip-address", "127.0.0.1",
                               "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
                               "--temp-dir", temp, "--disable-usage-stats"],
                              capture_output=True, text=True, timeout=180, env=env)
        assert head.returncode == 0, head.stderr[-2000:]
        second = subprocess.run([ray_bin, "start", "--address", address, "--num-cpus", "1",
                                 "--node-ip-address", "127.0.0.1", "--disable-usage-stats"],
                                capture_output=True, text=True, timeout=180, env=env)
        assert second.returncode == 0, second.stderr[-2000:]
        yield address, env
    finally:  # not `ray stop`: it stops every Ray on the machine, the test session's too
        _stop_cluster(address, temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fast", "meltingpot"])
def test_league_runs_on_a_ray_cluster_started_with_ray_start(tmp_path, engine, loopback_cluster):
    """The league joins a two-node cluster (on the fast env each rollout actor is a shard of
    worlds; on Melting Pot a RolloutWorker)."""
    address, env = loopback_cluster
    out = tmp_path / "run"
    done = subprocess.run(popbased_argv("league", "launch", tiny_league(tmp_path, steps=700),
                                        "--generations", 1, "--workers", 2, "--envs-per-worker", 1,
                                        "--rollout-length", 50, "--out", out, "--ray-address", address,
                                        "--env", engine, "--json"),
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["generation"] == 1 and report["ray"]["address"].endswith(address.split(":")[1])
    assert report["ray"]["cpus"] == 2  # both nodes' CPUs


def _stop_cluster(address: str, temp: str) -> None:
    import psutil

    procs = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if (address in cmdline or temp in cmdline) and proc.pid != os.getpid():
            procs.append(proc)
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)


@pytest.mark.slow
def test_train_joins_an_existing_ray_cluster(ray_local, tmp_path):
    """`popbased train --ray-address` from another process joins the session's Ray."""
    import subprocess

    out = tmp_path / "joined"
    cmd = train_argv(ray_local["address"], out, steps=280) + ["--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ray"]["started"] is False and report["ray"]["address"] == ray_local["address"]
    assert (out / "m0.pt").exists()


def test_unreachable_ray_address_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["train", "open", "--ray-address", "127.0.0.1:1",
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "cannot reach Ray at 127.0.0.1:1" in result.output
    assert not (tmp_path / "x").exists()
