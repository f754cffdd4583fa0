"""Files at the bottom of the stack (popbased.textio): atomic writes give the file the mode
the umask allows, as any new file would get, not the temp file's 0600."""

import os

import pytest

from popbased import textio


@pytest.fixture
def umask():
    """Sets the process's umask for one test (restored after it)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    assert textio.umask() == mask
    path = tmp_path / "state.json"
    textio.write_atomic(path, b"{}")
    assert path.stat().st_mode & 0o777 == mode
    path.chmod(0o600)  # a replaced file gets the umask's mode too
    textio.write_atomic(path, b"{ }")
    assert path.stat().st_mode & 0o777 == mode and path.read_bytes() == b"{ }"
    assert os.listdir(tmp_path) == ["state.json"]


def test_umask_without_proc_is_the_one_at_import(monkeypatch):
    monkeypatch.setattr(textio, "_proc_umask", lambda: None)
    monkeypatch.setattr(textio, "_IMPORT_UMASK", 0o027)
    assert textio.umask() == 0o027
