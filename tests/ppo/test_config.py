"""Configuration checks (popbased.ppo.config) and the network shapes they allow."""

import pytest

from popbased.errors import BadInput
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.policy import Policy

from conftest import ACTIONS


def test_config_validation():
    with pytest.raises(BadInput, match="clip"):
        PPOConfig(clip=0)
    with pytest.raises(BadInput, match="conv"):
        Policy(5, ACTIONS, NetConfig(conv_channels=(8, 8, 8), conv_strides=(1, 2, 2)))
