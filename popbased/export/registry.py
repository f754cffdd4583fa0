"""Champions in the MLflow Model Registry: one registered model per population
(`LEAGUE-POP`, or the population's name for a PBT run), each export a new version, the
alias `champion` on the newest. The export folder is logged to the member's own MLflow run
(under `champion/`) with the member's checkpoint (under `checkpoint/`); a run that was not
tracked gets an `export` run in its experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from popbased.export.champion import ALIAS
from popbased.runs.folder import MemberInfo, RunFolder
from popbased.tracking import store


def model_name(run: RunFolder, population: str) -> str:
    return population if run.kind == "pbt" else f"{run.name}-{population}"


def tracking_uri(run: RunFolder, uri: str | None) -> str:
    tracked = run.tracking()
    uri = store.resolve_uri(uri or (tracked or {}).get("uri"))
    store.check(uri)
    return uri


def _member_run(client, run: RunFolder, member: MemberInfo, uri: str) -> str:
    tracked = run.tracking() or {}
    if tracked.get("uri") == uri and member.id in tracked.get("runs", {}):
        return tracked["runs"][member.id]
    experiment = f"{run.kind}-{run.name}"
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    created = client.create_run(experiment_id, tags={
        "mlflow.runName": f"export {member.id}", "popbased.member": member.id,
        "popbased.folder": str(run.path.resolve()), "popbased.kind": "export"})
    client.set_terminated(created.info.run_id)
    return created.info.run_id


def register(run: RunFolder, member: MemberInfo, folder: Path, info: dict[str, Any], uri: str) -> dict:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    run_id = _member_run(client, run, member, uri)
    client.log_artifacts(run_id, str(folder), artifact_path="champion")
    client.log_artifact(run_id, str(member.checkpoint), artifact_path="checkpoint")
    name = model_name(run, member.population)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"champions of population {member.population} "
                                                         f"({run.kind} {run.name}), exported by popbased")
    source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/champion"
    tags = {"member": member.id, "format": info["format"], "chosen_by": info["chosen_by"],
            "fitness": str(member.fitness), "generation": str(run.generation),
            "folder": str(run.path.resolve()), "checkpoint_sha256": str(member.sha256)}
    version = client.create_model_version(name, source, run_id=run_id, tags=tags,
                                          description=f"{member.id} at generation {run.generation}")
    client.set_registered_model_alias(name, ALIAS, version.version)
    return {"name": name, "version": int(version.version), "alias": ALIAS, "run_id": run_id,
            "uri": f"models:/{name}@{ALIAS}"}
