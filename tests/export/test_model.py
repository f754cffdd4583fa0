"""The exported model (popbased.export.model): its pooling is OpenCV's area resize."""

from types import SimpleNamespace

import numpy as np
import torch

from popbased.env.instance import downsample
from popbased.export import model
from popbased.ppo.config import NetConfig
from popbased.ppo.policy import Policy


def test_pooling_inside_the_model_is_opencv_area_resize():
    rng = np.random.default_rng(0)
    for size in (44, 22, 11, 8):
        factor = 88 // size
        frames = rng.integers(0, 256, (7, 88, 88, 3), dtype=np.uint8)
        for k in range(min(size, 8)):  # blocks whose mean is exactly k + 0.5 (rounding matters)
            block = np.full(factor * factor, 2 * k + 1, np.uint8)
            block[factor * factor // 2:] += 1
            if factor % 2 == 0:
                frames[0, :factor, k * factor:(k + 1) * factor, 0] = block.reshape(factor, factor)
        expected = np.zeros((7, size, size, 3), np.uint8)
        downsample(frames, expected)
        policy = Policy(size, ["A", "B"], NetConfig(conv_channels=(4,), conv_strides=(1,), mlp=(8,)))
        wrapped = model.wrap(policy)
        assert model.input_size(policy) == 88
        got = wrapped.pool(torch.from_numpy(frames).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1)
        assert np.array_equal(got.numpy().astype(np.uint8), expected), size
    # 4x4 and 2x2 views: OpenCV's fixed-point result is not a plain mean; such exports take
    # views resized outside (as policy.json says)
    for size in (4, 2):
        assert model.input_size(SimpleNamespace(obs_size=size)) == size
