"""An onnx export plays on one onnxruntime thread without spinning (popbased.export.runtime.
ONNX_THREADS; scripts/bench_onnx_threads measures why), with the same log-probabilities to the
bit as onnxruntime's default threads."""

import numpy as np

from popbased.export import runtime

from conftest import ROOT

CHAMPION = ROOT / "results" / "study" / "champions" / "open"


def test_one_thread_without_spinning_gives_the_defaults_numbers(monkeypatch):
    samples = np.load(CHAMPION / "samples.npz")
    rgb = samples["rgb"].reshape((-1,) + samples["rgb"].shape[2:])
    mask = samples["mask"].reshape(-1, samples["mask"].shape[-1])
    ours = runtime.Exported(CHAMPION)
    options = ours._session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.setattr(runtime, "ONNX_THREADS", 0)
    default = runtime.Exported(CHAMPION)
    assert default._session.get_session_options().intra_op_num_threads == 0
    for rows in (slice(0, 7), slice(None)):  # one world's seats, and every sample row
        np.testing.assert_array_equal(ours.step(rgb[rows], mask[rows])[0], default.step(rgb[rows], mask[rows])[0])
    np.testing.assert_allclose(ours.step(rgb, mask)[0], samples["logp"].reshape(len(rgb), -1), atol=1e-4)
