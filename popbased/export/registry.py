"""Champions in the MLflow Model Registry: one registered model per population
(`LEAGUE-POP`, or the population's name for a PBT run), each export a new version, the
alias `champion` on the newest.

Each export folder is an MLflow model (MLmodel with a signature and an input example, see
popbased.export.champion): it is logged as an MLflow 3 logged model (`champion-POP`) of the
member's own MLflow run (a run output at the run's generation), with the member's checkpoint
under the run's `checkpoint/`, and that logged model is what the version serves, so
`mlflow.pyfunc.load_model("models:/NAME@champion")` loads it without popbased. A run that was
not tracked gets an `export` run in its experiment (created FINISHED). Registering never
starts, resumes or ends the member's run: its status stays what training left.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from popbased.export.champion import ALIAS, pyfunc_usage
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
    experiment_id = found.experiment_id if found else store.new_experiment(client, uri, experiment)
    created = client.create_run(experiment_id, tags={
        "mlflow.runName": f"export {member.id}", "popbased.member": member.id,
        "popbased.folder": str(run.path.resolve()), "popbased.kind": "export",
        "mlflow.note.content": f"`popbased export champion` of {member.id} from {run.path.resolve()} "
                               f"(not tracked in MLflow when it trained); its model is this run's output."})
    client.set_terminated(created.info.run_id)
    return created.info.run_id


def description(info: dict[str, Any], name: str) -> str:
    """The model version's description (Markdown): what it is and how to run it."""
    fitness = "" if info["fitness"] is None else f", fitness {info['fitness']:.4g}"
    engine = {"onnx": "ONNX (MLflow's onnx flavour, run by onnxruntime)",
              "mlflow": "a torch.export program (pt2: pytorch flavour, and a pyfunc that needs torch)",
              "torchscript": "TorchScript (a pyfunc that needs torch)"}[info["format"]]
    code = "\n".join("    " + line for line in pyfunc_usage(info, f"models:/{name}@{ALIAS}").splitlines())
    state = (" A recurrent policy also takes `state` (float32 [N, 2, L], zeros at first) and `starts` "
             "(bool [N], True on an episode's first step) and returns `state_out` for the next step."
             if info["recurrent"] else "")
    return (f"**{info['member']}** of {info['population']} at generation {info['run']['generation']} "
            f"(chosen by {info['chosen_by']}{fitness}), from `{info['run']['folder']}`.\n\n"
            f"{engine}, with the view preprocessing and action masking inside; popbased is not needed:\n\n"
            f"{code}\n\n"
            f"Input: a dict of numpy arrays named as the signature says, with exactly its dtypes "
            f"(N seats, the first axis).{state} Output: a dict, `logp` (masked log-probabilities over "
            f"the actions {', '.join(info['actions'])}) and `value`. `policy.json` beside `MLmodel` "
            f"holds the observation spec, hyperparameters, shaping weights and lineage; `samples.npz` "
            f"real views with the original policy's outputs.")


def _stamp(folder: Path, logged, run_id: str) -> None:
    """MLmodel names its logged model and run, as mlflow's log_model writes it."""
    from mlflow.models import Model  # deferred: heavy, only to register

    meta = Model.load(str(folder / "MLmodel"))
    meta.model_id = meta.model_uuid = logged.model_id
    meta.run_id, meta.artifact_path = run_id, logged.artifact_location
    meta.save(str(folder / "MLmodel"))


def register(run: RunFolder, member: MemberInfo, folder: Path, info: dict[str, Any], uri: str) -> dict:
    from mlflow.entities import LoggedModelOutput  # deferred: heavy, only to register
    from mlflow.exceptions import MlflowException
    client = store.client(uri, registry_uri=uri)
    run_id = _member_run(client, run, member, uri)
    client.log_artifact(run_id, str(member.checkpoint), artifact_path="checkpoint")
    name = model_name(run, member.population)
    tags = {"member": member.id, "format": info["format"], "chosen_by": info["chosen_by"],
            "fitness": str(member.fitness), "generation": str(run.generation),
            "folder": str(run.path.resolve()), "checkpoint_sha256": str(member.sha256)}
    logged = client.create_logged_model(
        client.get_run(run_id).info.experiment_id, name=re.sub(r"[/:.%\"']", "_", f"champion-{member.population}"),
        source_run_id=run_id, tags=tags, params={k: str(v) for k, v in member.values.items()},
        model_type="popbased-policy")
    try:
        with tempfile.TemporaryDirectory(prefix="popbased-model-") as tmp:
            local = Path(tmp) / "model"
            shutil.copytree(folder, local)
            _stamp(local, logged, run_id)
            client.log_model_artifacts(logged.model_id, str(local))
        client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=run.generation)])
    except BaseException:
        client.finalize_logged_model(logged.model_id, "FAILED")
        raise
    client.finalize_logged_model(logged.model_id, "READY")
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"champions of population {member.population} "
                                                         f"({run.kind} {run.name}), exported by popbased; "
                                                         f"`mlflow.pyfunc.load_model(\"models:/{name}@{ALIAS}\")` "
                                                         f"loads the newest (each version says how to run it)")
    # the logged model's own location as the source (a models:/m-... source makes a SQLite
    # registry look the model up in the process's default tracking store, not in `uri`); the
    # tag model_id because a SQLite registry (MLflow 3.17) does not keep the version's model_id
    version = client.create_model_version(name, logged.artifact_location, run_id=run_id,
                                          tags={**tags, "model_id": logged.model_id},
                                          description=description(info, name), model_id=logged.model_id)
    client.set_registered_model_alias(name, ALIAS, version.version)
    return {"name": name, "version": int(version.version), "alias": ALIAS, "run_id": run_id,
            "model_id": logged.model_id, "uri": f"models:/{name}@{ALIAS}"}
