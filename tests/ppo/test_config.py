"""Configuration checks (popbased.ppo.config) and the network shapes they allow."""

import pytest

from popbased.errors import BadInput
from popbased.ppo.config import NetConfig, PPOConfig, from_mapping
from popbased.ppo.policy import Policy

from conftest import ACTIONS


def test_config_validation():
    with pytest.raises(BadInput, match="clip"):
        PPOConfig(clip=0)
    with pytest.raises(BadInput, match="conv"):
        Policy(5, ACTIONS, NetConfig(conv_channels=(8, 8, 8), conv_strides=(1, 2, 2)))


def test_values_of_the_wrong_type_name_the_key():
    with pytest.raises(BadInput, match=r"^--ppo lr=abc: lr needs a number$"):
        from_mapping(PPOConfig, {"lr": "abc"}, "--ppo")
    with pytest.raises(BadInput, match="vf_clip needs a number or null"):
        from_mapping(PPOConfig, {"vf_clip": "x"}, "--ppo")
    with pytest.raises(BadInput, match="norm_adv needs true or false"):
        from_mapping(PPOConfig, {"norm_adv": "yes"}, "--ppo")
    with pytest.raises(BadInput, match="lstm needs a number"):
        from_mapping(NetConfig, {"lstm": True}, "net")
    assert from_mapping(PPOConfig, {"lr": 1, "vf_clip": None, "epochs": 3}, "--ppo").lr == 1
    assert from_mapping(NetConfig, {"mlp": [8], "lstm": 4}, "net").mlp == (8,)
