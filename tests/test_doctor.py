"""`popbased doctor` (popbased.doctor): what this install has, as JSON."""

import json

from conftest import invoke


def test_doctor_json():
    result = invoke("doctor", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["torch_build"] in ("cpu", "cuda")


def test_doctor_says_which_bots_are_there(tmp_path, monkeypatch):
    (tmp_path / "commons_harvest__open" / "free_0").mkdir(parents=True)
    (tmp_path / "commons_harvest__open" / "free_0" / "saved_model.pb").write_bytes(b"")
    monkeypatch.setenv("POPBASED_BOTS_ROOT", str(tmp_path))
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert f"POPBASED_BOTS_ROOT={tmp_path}" in line and "1 of " in line and "bots present, 1 substrate " in line
    listed = invoke("substrates", "list", "--json")
    rows = {r["name"]: r for r in json.loads(listed.output)["substrates"]}
    assert rows["commons_harvest__open"]["bots"] == {"known": 4, "present": 1}
    assert rows["commons_harvest__open"]["scenarios"] == ["commons_harvest__open_0", "commons_harvest__open_1"]
