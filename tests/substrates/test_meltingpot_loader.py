"""Melting Pot loads without TensorFlow (popbased.substrates.meltingpot_loader)."""


def test_tensorflow_not_imported():
    """In a fresh interpreter (earlier tests in this one may have imported anything): building
    a substrate and playing it, as training processes do, never imports TensorFlow."""
    import subprocess
    import sys

    code = ("import sys; from popbased import substrates; from popbased.env.pool import BatchedEnv; "
            "env = BatchedEnv(substrates.resolve('no_zap'), 1, backend='inline'); env.reset(); "
            "env.step([0] * env.num_seats); env.close(); "
            "print('tensorflow' in sys.modules, 'meltingpot' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]  # Melting Pot was used, TensorFlow was not
