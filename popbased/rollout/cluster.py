"""Ray: a local instance by default, an existing cluster with an address or RAY_ADDRESS."""

from __future__ import annotations

import os

from popbased.errors import BadInput


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> dict:
    """Starts or joins Ray once per process; returns {'address', 'cpus', 'gpus', 'started'}.

    address: None -> RAY_ADDRESS if set, else a new local Ray with `num_cpus`
    (default: this machine's CPUs). A bad address is one clear error.
    """
    import ray

    if ray.is_initialized():
        return _describe(ray, started=False)
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as err:
        where = address or "a local Ray"
        raise BadInput(f"cannot start or join Ray at {where}: {str(err).splitlines()[0]}") from None
    return _describe(ray, started=True)


def _describe(ray, started: bool) -> dict:
    resources = ray.cluster_resources()
    return {"address": ray.get_runtime_context().gcs_address, "cpus": resources.get("CPU", 0),
            "gpus": resources.get("GPU", 0), "started": started}
