"""What is committed under results/ names no path of the machine that made it: a
reader's checkout has other folders, and a path like /work/main/runs/... says nothing to them."""

import re

import pytest

from conftest import ROOT

ABSOLUTE = re.compile(rb"""(?:^|["'\s(=`])(?:file://)?/(?:work|home|tmp|root|Users|opt|mnt|private|var)/""")
SQLITE_ABSOLUTE = re.compile(rb"sqlite:////")


def committed_files():
    for path in sorted((ROOT / "results").rglob("*")):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".md", ".html", ".onnx", ".txt", ".yaml", ".csv"}:
            yield path


@pytest.mark.parametrize("path", list(committed_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_results_name_no_absolute_machine_path(path):
    data = path.read_bytes()
    found = ABSOLUTE.search(data) or SQLITE_ABSOLUTE.search(data)
    assert found is None, f"{path.relative_to(ROOT)}: {data[max(0, found.start() - 60):found.end() + 60]!r}"
