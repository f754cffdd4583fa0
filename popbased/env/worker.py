"""The process that hosts one substrate instance for the pool (see pool.py).

Protocol on its pipe: the pool sends STEP (actions are in shared memory), RENDER or
CLOSE. The worker answers STEP with None, or with ('done', rewards, summary) when the
episode ended; it then builds the next episode at once, while the pool carries on
with other workers, and sends ('ready',) when that episode's first observation is
in shared memory. Builds happen here, off the pool's critical path.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing import resource_tracker, shared_memory
from multiprocessing.connection import Client

STEP, RENDER, CLOSE = 1, 2, 0


def worker_main(worker_id: int, spec, shm_name: str, layout: dict, conn, seed: int,
                options: dict) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # deferred: OMP_NUM_THREADS must be set before numpy and cv2 load, and only in the worker
    # process (the pool imports this module too, for its protocol constants)
    import cv2
    import numpy as np

    from popbased.env.instance import EnvRunner
    from popbased.env.shared import views

    cv2.setNumThreads(1)
    shm = shared_memory.SharedMemory(name=shm_name)
    if hasattr(resource_tracker, "unregister"):  # the pool owns and unlinks the block
        resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
    arrays = None
    try:
        arrays = views(shm.buf, layout)
        rgb, ready = arrays["rgb"][worker_id], arrays["ready"][worker_id]
        rewards, actions = arrays["rewards"][worker_id], arrays["actions"][worker_id]
        runner = EnvRunner(spec, np.random.default_rng([seed, worker_id]), **options)
        if "state" in arrays:
            runner.state = arrays["state"][worker_id]
        runner.begin(rgb, ready)
        conn.send(("ready",))
        while True:
            command = conn.recv()
            if command == STEP:
                summary = runner.step(actions, rgb, ready, rewards)
                if summary is None:
                    conn.send(None)
                else:
                    conn.send(("done", rewards.copy(), summary))
                    runner.begin(rgb, ready)
                    conn.send(("ready",))
            elif command == RENDER:
                conn.send(runner.instance.world_rgb())
            else:
                break
        runner.close()
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    except Exception:  # report, so the pool raises with the worker's traceback
        try:
            conn.send(("error", traceback.format_exc()))
        except Exception:
            pass
    finally:
        del arrays
        shm.close()


def main(argv: list[str]) -> None:
    """Entry point of `python -m popbased.env.worker ADDRESS WORKER_ID` (started by the pool).

    Started as a plain subprocess (not multiprocessing's spawn) so that the user's
    script is never re-imported in the worker. The authkey comes in POPBASED_WORKER_KEY.
    """
    address, worker_id = argv[0], int(argv[1])
    conn = Client(address, authkey=bytes.fromhex(os.environ.pop("POPBASED_WORKER_KEY")))
    conn.send(worker_id)
    spec, shm_name, layout, seed, options = conn.recv()
    worker_main(worker_id, spec, shm_name, layout, conn, seed, options)


if __name__ == "__main__":
    main(sys.argv[1:])
