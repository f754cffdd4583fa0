"""Finished evaluation tasks kept on disk, so that a suite run that was killed (a session's end,
a machine's reset) goes on where it stopped instead of playing every task again.

A task is one (scenario, focal policy) job of `popbased evaluate suite`: its episodes' results
are plain JSON (ints, floats, bools, lists), so a task read back scores exactly as the one
played. Each is one file FOLDER/KEY.json, KEY a digest of what decides its episodes: the run's
identity (suite, episodes, seed, episode cap, engine), the job (scenario, policy, settings,
every seat's player) and the bytes of every seat's policy file or export folder (a champion
exported again is a new task). Files are written atomically as tasks finish; anything else in
FOLDER, or a file that does not read back, is ignored and the task played again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from popbased.textio import write_atomic


class TaskStore:
    """FOLDER's finished tasks for runs of one identity (a mapping of JSON values)."""

    def __init__(self, folder: str | Path, identity: Mapping[str, Any]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.identity = dict(identity)
        self._digests: dict[str, str | None] = {}

    def get(self, job: Mapping[str, Any]) -> dict[str, Any] | None:
        """The task's result as it was kept, or None (never played, or unreadable)."""
        plain = _plain(job)
        try:
            kept = json.loads(self._path(plain).read_text())
        except (OSError, ValueError):
            return None
        return kept.get("result") if isinstance(kept, dict) and kept.get("job") == plain else None

    def put(self, job: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        plain = _plain(job)
        write_atomic(self._path(plain), json.dumps({"job": plain, "result": result}).encode())

    def _path(self, plain: Mapping[str, Any]) -> Path:
        files = {s: self._digest(s) for s in plain.get("seats", ()) if isinstance(s, str)}
        text = json.dumps({"identity": self.identity, "job": plain, "files": files}, sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"

    def _digest(self, player: str) -> str | None:
        """SHA-256 of a seat's policy file or export folder (its files' names and bytes); None
        for players that are not paths (random, scripted:NAME)."""
        if player not in self._digests:
            path, digest = Path(player), None
            if path.is_file() or path.is_dir():
                digest = hashlib.sha256()
                for f in sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()):
                    digest.update(str(f.relative_to(path if path.is_dir() else path.parent)).encode())
                    digest.update(f.read_bytes())
                digest = digest.hexdigest()
            self._digests[player] = digest
        return self._digests[player]


def _plain(job: Mapping[str, Any]) -> Any:
    """The job as JSON gives it back (tuples as lists), to compare with a kept one."""
    return json.loads(json.dumps(dict(job), sort_keys=True))
