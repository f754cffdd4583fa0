import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the whole session (2 CPUs, like CI's machine)."""
    import ray

    from popbased.rollout.cluster import ensure_ray

    info = ensure_ray(num_cpus=2)
    yield info
    ray.shutdown()
