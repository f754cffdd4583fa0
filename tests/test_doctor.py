"""`popbased doctor` (popbased.doctor): what this install has, as JSON."""

import json

from conftest import invoke


def test_doctor_json():
    result = invoke("doctor", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["torch_build"] in ("cpu", "cuda")
