"""Ray: a local instance by default, an existing cluster with an address or RAY_ADDRESS."""

from __future__ import annotations

import logging
import os
import socket

from popbased.errors import BadInput


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> dict:
    """Starts or joins Ray once per process; returns {'address', 'cpus', 'gpus', 'started'}
    (started: this call started a local Ray, rather than joining one or finding it up).

    address: None -> RAY_ADDRESS if set, else a new local Ray with `num_cpus`
    (default: this machine's CPUs). A bad address is one clear error.
    """
    import ray  # deferred: heavy; check_reachable and the callers that only check need no Ray

    if ray.is_initialized():
        return _describe(ray, started=False)
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:  # our own local Ray: its start-up notes (token authentication, on by default
            # for a local cluster, and "Started a local Ray instance") are not the user's business
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
                logging.ERROR)
            # address="local": a new Ray even when `ray start` left a cluster on this machine
            # (with address=None Ray would join the newest one it finds in /tmp/ray)
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     log_to_driver=True, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as err:
        where = address or "a local Ray"
        raise BadInput(f"cannot start or join Ray at {where}: {str(err).splitlines()[0]}") from None
    return _describe(ray, started=not address)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fails fast (Ray itself retries for minutes) when host:port does not answer."""
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise BadInput(f"Ray address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise BadInput(f"cannot reach Ray at {address}: {err.strerror or err} "
                       "(start one with `ray start --head`, or leave the address out "
                       "for a local Ray)") from None


def _describe(ray, started: bool) -> dict:
    resources = ray.cluster_resources()
    return {"address": ray.get_runtime_context().gcs_address, "cpus": resources.get("CPU", 0),
            "gpus": resources.get("GPU", 0), "started": started}
