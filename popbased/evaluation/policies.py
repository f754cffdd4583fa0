"""Policy references for `popbased evaluate`: what sits in every seat of an evaluation.

    random                       uniform random actions (the study's baseline)
    scripted:NAME                a scripted commons_harvest player (popbased.play.scripted):
                                 scripted:sustainable (the sustainable reference), scripted:greedy,
                                 scripted:greedy_zapper, scripted:chaser
    PATH.pt                      a member checkpoint (popbased train / pbt / league)
    EXPORT_FOLDER                a folder from `popbased export champion` (its policy.json)
    LEAGUE/MEMBER                a league or PBT member (see popbased.runs.refs), its current weights
    population:RUN_FOLDER        a PBT run's members mixed in the seats, each at its current weights
    population:LEAGUE_FOLDER/POP one population of a league, likewise (RUN_FOLDER: anything
                                 popbased.runs.refs takes as LEAGUE: a folder, a name, an MLflow id)
    models:/NAME@ALIAS           a registered champion (e.g. models:/commons-no_zap@champion), or
    models:/NAME/VERSION         one version of it, from the MLflow registry (--tracking-uri)
    bots                         DeepMind's pretrained bots: not yet (a clear message)

Each resolved policy carries its `source`: what exactly was evaluated (checkpoint file and
SHA-256, export folder, run folder, member, the generation its weights come from, the MLflow
runs of that member and of its league or PBT run when the run folder was tracked, the model
version), so that results, reports and the evaluation's MLflow run can name it.

A population's seats are fixed: its members in id order (m0, m1, ...), member i of n sits in
every seat j with j % n == i (7 seats, 4 members: m0 m1 m2 m3 m0 m1 m2); a population of more
members than seats is refused. Melting Pot draws the spawn points anew each episode, so the
seat order does not choose where anyone starts. Its `source` names the run and lists every
member's checkpoint with its SHA-256 (`members`), like a checkpoint's source.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.ppo.actions import RANDOM, scripted_kind

ALLOWED = ("random, scripted:sustainable | greedy | greedy_zapper | chaser, a checkpoint file, an export folder, "
           "LEAGUE/MEMBER, population:RUN_FOLDER, population:LEAGUE_FOLDER/POP or models:/NAME@ALIAS")
POPULATION = "population:"
SEAT_RULE = "members in id order, member i of n in every seat j with j % n == i"
MEMBER_ORDER = re.compile(r"^(?:(?P<pop>.*)/)?m(?P<index>\d+)$")
MODEL_REF = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")
GENERATION = re.compile(r"^gen-(\d+)$")
FILE_SUFFIXES = (".pt", ".onnx")
"""A reference ending so names a file (a checkpoint, an exported model), never a member."""
PATH_SEPARATORS = tuple(dict.fromkeys(("/", os.sep)))


@dataclasses.dataclass(frozen=True)
class PolicyRef:
    label: str  # how tables, plots and metric names name it
    kind: str  # how it plays: random | scripted | checkpoint | export | population
    path: str | None = None
    source: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False)
    members: tuple[str, ...] = ()
    """A population's member checkpoints in id order (kind `population`; `seats` places
    them); empty otherwise."""

    def seats(self, players: int) -> list[str | None]:
        """What plays each of `players` seats: `path` in every seat, or for a population member
        i of n in every seat j with j % n == i (BadInput when it has more members than seats)."""
        if not self.members:
            return [self.path] * players
        n = len(self.members)
        if n > players:
            raise BadInput(f"policy {self.label!r}: {n} members for {players} seats; a population "
                           f"plays with every member seated ({SEAT_RULE}), so at most {players}")
        return [self.members[j % n] for j in range(players)]


def resolve(ref: str, tracking_uri: str | None = None) -> PolicyRef:
    from popbased.export import runtime

    if ref == RANDOM:
        return PolicyRef(RANDOM, "random", source={"ref": ref, "kind": "random"})
    kind = scripted_kind(ref)
    if kind:
        return PolicyRef(ref, "scripted", ref, {"ref": ref, "kind": "scripted", "scripted": kind})
    if ref in ("bots", "bot") or ref.startswith("bots:"):
        raise BadInput(f"policy {ref!r}: DeepMind's pretrained bots are not yet playable in "
                       f"`evaluate`; use {ALLOWED}")
    if ref.startswith("models:/"):
        return _model(ref, tracking_uri)
    if ref.startswith(POPULATION):
        return _population(ref, tracking_uri)
    path = Path(ref)
    if path.is_file():
        from popbased.ppo import checkpoint

        payload = checkpoint.read(path)  # a bad or damaged checkpoint is one clear line now, not mid-run
        source = {"ref": ref, "kind": "checkpoint", **_checkpoint_source(path, payload.get("member"))}
        label = (source["member"] if "run_folder" in source and "member" in source else
                 path.stem if path.parent.name in ("", ".") else f"{path.parent.name}/{path.stem}")
        return PolicyRef(label, "checkpoint", str(path.resolve()), source)
    if runtime.is_export(path):
        if (why := runtime.unplayable(path)) is not None:
            raise BadInput(f"policy {ref!r}: not a playable export folder: {why}")
        source = {"ref": ref, "kind": "export", **_export_source(path)}
        return PolicyRef(_export_label(path, source), "export", str(path.resolve()), source)
    if path.suffix.lower() in FILE_SUFFIXES and not path.exists():
        raise BadInput(f"policy {ref!r}: no such file: {ref}; allowed: {ALLOWED}")
    from popbased.runs import refs

    try:
        run, member = refs.member(ref, tracking_uri)
    except BadInput as err:
        if not path.exists() and any(sep in ref for sep in PATH_SEPARATORS):
            detail = "" if isinstance(err, refs.NotAMember) else f" ({err})"
            raise BadInput(f"policy {ref!r}: no such file or folder: {ref}{detail}; allowed: "
                           f"{ALLOWED}") from None
        raise BadInput(f"policy {ref!r}: not {ALLOWED} ({err})") from None
    info = run.member(member)
    source = {"ref": ref, "kind": "member", **_checkpoint_source(info.checkpoint, member, run)}
    return PolicyRef(member, "checkpoint", str(info.checkpoint.resolve()), source)


def resolve_all(refs_: tuple[str, ...] | list[str], tracking_uri: str | None = None) -> list[PolicyRef]:
    """Every ref resolved. Policies whose labels clash (a member's checkpoint and its export, or
    open/m0 of two leagues) get what tells them apart added: their form, their run, their folder,
    else the ref as given; the same policy twice is refused."""
    if not refs_:
        raise BadInput(f"give at least one policy: {ALLOWED}")
    out = [resolve(r, tracking_uri) for r in refs_]
    for ref, p in zip(refs_, out):
        twins = [r for r, q in zip(refs_, out) if q is not p and q.kind == p.kind and q.path == p.path]
        if twins:
            raise BadInput(f"policies {ref} and {twins[0]}: the same policy twice; give each policy once")
    for label in {p.label for p in out}:
        same = [i for i, p in enumerate(out) if p.label == label]
        if len(same) < 2:
            continue
        for tell in (lambda i: out[i].source.get("kind"), lambda i: out[i].source.get("run_name"),
                     lambda i: Path(out[i].path).parent.name if out[i].path else None, lambda i: refs_[i]):
            marks = [tell(i) for i in same]
            if all(marks) and len(set(marks)) == len(marks):
                for i, mark in zip(same, marks):
                    out[i] = dataclasses.replace(out[i], label=f"{label} ({mark})")
                break
    return out


# ---------------------------------------------------------------------- sources
def checkpoint_sha256(path: Path) -> str | None:
    """The content hash in a checkpoint's header line (read without loading the file)."""
    with Path(path).open("rb") as f:
        header = f.readline(200).split()
    return header[2][len(b"sha256="):].decode() if len(header) == 3 and header[2].startswith(b"sha256=") else None


def _run_folder_of(path: Path):
    """(run folder, member id) of a checkpoint inside a run folder (RUN/gen-NNNN/[POP/]mK.pt)."""
    from popbased.runs.folder import is_run, open_run

    path = path.resolve()
    for parent in list(path.parents)[:4]:
        if is_run(parent):
            parts = path.relative_to(parent).with_suffix("").parts
            member = "/".join(parts[1:]) if parts and GENERATION.match(parts[0]) else None
            try:
                return open_run(parent), member
            except BadInput:
                return None, None
    return None, None


def _generation(path: Path) -> int | None:
    for part in reversed(Path(path).parts):
        found = GENERATION.match(part)
        if found:
            return int(found.group(1))
    return None


def _tracked(run, member: str | None) -> dict[str, Any]:
    tracked = run.tracking() or {}
    runs = tracked.get("runs") or {}
    out = {"tracking_uri": tracked.get("uri"), "run_mlflow_id": runs.get("league"),
           "member_mlflow_id": runs.get(member) if member else None}
    return {k: v for k, v in out.items() if v}


def _checkpoint_source(path: Path, member: str | None, run=None) -> dict[str, Any]:
    path = Path(path)
    found_member = None
    if run is None:
        run, found_member = _run_folder_of(path)
    member = found_member or member
    out: dict[str, Any] = {"checkpoint": str(path.resolve()), "sha256": checkpoint_sha256(path),
                           "member": member, "generation": _generation(path)}
    if run is not None:
        out.update(run_folder=str(run.path.resolve()), run_kind=run.kind, run_name=run.name,
                   **_tracked(run, member))
        if out["generation"] is None:
            out["generation"] = run.generation
    return {k: v for k, v in out.items() if v is not None}


def _export_source(folder: Path) -> dict[str, Any]:
    from popbased.export import runtime
    from popbased.runs.folder import is_run, open_run

    info = runtime.Exported.describe(folder)
    ckpt, run_info = info.get("checkpoint") or {}, info.get("run") or {}
    out: dict[str, Any] = {
        "export": str(Path(folder).resolve()), "format": info.get("format"), "member": info.get("member"),
        "population": info.get("population"), "chosen_by": info.get("chosen_by"),
        "checkpoint": ckpt.get("file"), "sha256": ckpt.get("sha256"),
        "generation": _generation(Path(ckpt["file"])) if ckpt.get("file") else None,
        "run_folder": run_info.get("folder"), "run_kind": run_info.get("kind"), "run_name": run_info.get("name")}
    if out["generation"] is None:
        out["generation"] = run_info.get("generation")
    if out["run_folder"] and is_run(Path(out["run_folder"])):
        try:
            out.update(_tracked(open_run(out["run_folder"]), out["member"]))
        except BadInput:
            pass
    return {k: v for k, v in out.items() if v is not None}


def _export_label(folder: Path, source: dict[str, Any]) -> str:
    member = source.get("member", "?")
    # `export champion -o DIR` writes DIR/POPULATION: that folder name says nothing new
    return f"{member} (champion)" if Path(folder).name == source.get("population") else \
        f"{member} ({Path(folder).name})"


def _population_run(ref: str, target: str, tracking_uri: str | None):
    """(run, population name or None) that population:TARGET names."""
    from popbased.runs import refs

    try:
        return refs.league(target, tracking_uri), None
    except BadInput as err:
        parent, name = Path(target).parent, Path(target).name
        if str(parent) in ("", "."):
            raise BadInput(f"policy {ref!r}: {err}") from None
        try:
            return refs.league(str(parent), tracking_uri), name
        except BadInput:
            raise BadInput(f"policy {ref!r}: {err}") from None


def _member_order(member) -> tuple:
    found = MEMBER_ORDER.match(member.id)
    return (0, int(found.group("index")), member.id) if found else (1, 0, member.id)


def _population(ref: str, tracking_uri: str | None) -> PolicyRef:
    """population:RUN_FOLDER (a PBT run) or population:LEAGUE_FOLDER/POP: the members' current
    checkpoints, seated by PolicyRef.seats."""
    target = ref[len(POPULATION):].rstrip("/" + os.sep)
    if not target:
        raise BadInput(f"policy {ref!r}: expected population:RUN_FOLDER (a PBT run) or "
                       f"population:LEAGUE_FOLDER/POP (one population of a league)")
    run, pop = _population_run(ref, target, tracking_uri)
    populations = run.populations
    if pop is None:
        if len(populations) != 1:
            raise BadInput(f"policy {ref!r}: {run.path} is a league of {len(populations)} "
                           f"populations; name one: "
                           + ", ".join(f"{POPULATION}{target}/{p}" for p in populations))
        pop = populations[0]
    elif pop not in populations:
        raise BadInput(f"policy {ref!r}: the {run.kind} run {run.name} ({run.path}) has no "
                       f"population {pop!r}; its populations: {', '.join(populations)}")
    members = sorted((m for m in run.members if m.population == pop), key=_member_order)
    if not members:
        raise BadInput(f"policy {ref!r}: population {pop!r} of {run.path} has no members")
    from popbased.ppo import checkpoint

    for m in members:
        if not m.checkpoint.is_file():
            raise BadInput(f"policy {ref!r}: member {m.id}'s checkpoint {m.checkpoint} is missing "
                           f"(the run folder is damaged or was moved in part)")
        try:
            checkpoint.read(m.checkpoint)  # damaged: one clear line now, not mid-run
        except BadInput as err:
            raise BadInput(f"policy {ref!r}: member {m.id}: {err}") from None
    keep = ("member", "checkpoint", "sha256", "generation", "member_mlflow_id")
    listed = []
    for m in members:
        found = _checkpoint_source(m.checkpoint, m.id, run)
        listed.append({k: found[k] for k in keep if k in found})
    source = {"ref": ref, "kind": "population", "population": pop, "generation": run.generation,
              "run_folder": str(run.path.resolve()), "run_kind": run.kind, "run_name": run.name,
              **_tracked(run, None), "seats": SEAT_RULE,
              "members": listed}
    league = run.kind == "league"
    label = f"{run.name}/{pop} (population)" if league else f"{run.name} (population)"
    path = run.path.resolve() / pop if league else run.path.resolve()
    return PolicyRef(label, "population", str(path), source,
                     tuple(str(m.checkpoint.resolve()) for m in members))


def _model(ref: str, tracking_uri: str | None) -> PolicyRef:
    """A registered model version: its files (a popbased export) are downloaded and played;
    where they are not an export, the checkpoint its tags name, if its run folder is here."""
    import tempfile

    from popbased.export import runtime
    from popbased.tracking import store

    parsed = MODEL_REF.match(ref)
    if parsed is None:
        raise BadInput(f"policy {ref!r}: expected models:/NAME@ALIAS (e.g. models:/commons-no_zap@champion) "
                       f"or models:/NAME/VERSION")
    name, alias, number = parsed.group("name"), parsed.group("alias"), parsed.group("version")
    uri = store.resolve_uri(tracking_uri)
    store.check(uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise BadInput(f"policy {ref!r}: no MLflow store at {uri[len('sqlite:///'):]} to look it up in; give "
                       f"--tracking-uri (the store `popbased export champion` registered it in)")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    try:
        version = (client.get_model_version_by_alias(name, alias) if alias else
                   client.get_model_version(name, number))
    except MlflowException:
        raise BadInput(f"policy {ref!r}: no such registered model version in {uri} "
                       f"(`popbased export champion` registers champions as models:/LEAGUE-POP@champion)") from None
    # MLflow 3.17's SQLite registry drops a version's model_id; the export tags it too
    model_id = getattr(version, "model_id", None) or (version.tags or {}).get("model_id")
    model = {"model": f"models:/{name}/{version.version}", "model_name": name,
             "model_version": str(version.version), **({"model_alias": alias} if alias else {}),
             **({"model_id": model_id} if model_id else {})}
    if version.run_id:
        model["member_mlflow_id"] = version.run_id
    tags = dict(version.tags or {})
    import mlflow.artifacts

    local = Path(tempfile.mkdtemp(prefix=f"popbased-{name}-v{version.version}-"))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model["model"], dst_path=str(local),
                                                         tracking_uri=uri, registry_uri=uri))
    except Exception as err:  # noqa: BLE001 - the store answered but its files are unreachable
        raise BadInput(f"policy {ref!r}: its files could not be downloaded ({type(err).__name__}: "
                       f"{str(err).splitlines()[0] if str(err) else ''})") from None
    label = f"{tags.get('member', name)} ({name} v{version.version})"
    if runtime.is_export(local):
        source = {"ref": ref, "kind": "model", **_export_source(local), **model}
        return PolicyRef(label, "export", str(local), source)
    folder, member = tags.get("folder"), tags.get("member")
    if folder and member:
        from popbased.runs.folder import is_run, open_run

        if is_run(Path(folder)):
            run = open_run(folder)
            held = run.member(member)
            if held.sha256 and held.sha256 == tags.get("checkpoint_sha256"):
                source = {"ref": ref, "kind": "model", **_checkpoint_source(held.checkpoint, member, run), **model}
                return PolicyRef(label, "checkpoint", str(held.checkpoint.resolve()), source)
    raise BadInput(f"policy {ref!r}: its files are not a popbased export (no policy.json) and the "
                   f"checkpoint its tags name is not here; export it again with `popbased export champion`")


def check_scenarios(names: tuple[str, ...] | list[str], bots_root: str | None = None) -> list[str]:
    """Melting Pot scenario names (or patterns, or substrates), checked: each is known and its
    bots' saved models are under the bots root (popbased.evaluation.scenario.check); one line
    saying which files are missing and how to add them, if not."""
    from popbased.evaluation import scenario

    chosen, others = scenario.split_args(list(names))
    if others:
        raise BadInput(f"{others[0]!r}: not one of Melting Pot's scenarios")
    scenario.check(chosen, bots_root)
    return chosen
