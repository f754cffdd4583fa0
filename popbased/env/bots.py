"""Building Melting Pot's bots with Melting Pot's own code, shared by the rollout workers
(rollout/bots.py: a league's `bot:NAME` seats) and the scenario evaluation
(evaluation/scenario.py).

A bot's BotConfig comes from Melting Pot's configs (TensorFlow-free, via
popbased.substrates.meltingpot_loader) with its saved model looked up under another root;
TensorFlow itself is imported only by `quiet_tensorflow`, called just before the first bot is
built, so a process that builds no bot never imports it.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from popbased.substrates import meltingpot_loader


def quiet_tensorflow() -> None:
    """TensorFlow's start-up notes and the bots' permissive-model warnings stay out of the
    user's terminal; one thread per task (a task has one CPU)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:  # its C++ libraries log on load, whatever the level
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            import tensorflow  # noqa: F401  (deferred: heavy, only for processes that build bots)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)
    import tensorflow as tf  # deferred: see above
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already set up in this worker
        pass


def bot_config(name: str, root: str):
    """Melting Pot's BotConfig of `name` with its model under `root` (the same SUBSTRATE/MODEL)."""
    config = meltingpot_loader.bot_configs()[name]
    return dataclasses.replace(config, model_path=os.path.join(root, meltingpot_loader.bot_model(name)))
