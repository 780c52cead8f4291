"""Batch norm folded into the convolutions equals the unfolded network, for every convolutional family."""

import pytest
import torch
from torch import nn

from pipeline.encoders import Encoder, EncoderConfig
from pipeline.encoders.fold import fold_batchnorm
from pipeline.vae.model import VAEConfig, VAEEncoder


def _with_batch_statistics(net: nn.Module) -> nn.Module:
    """Running statistics and affine terms far from the identity, so that a norm folded into the wrong
    convolution (or left out) changes the output by much more than rounding."""
    gen = torch.Generator().manual_seed(0)
    for norm in net.modules():
        if isinstance(norm, nn.BatchNorm2d):
            n = norm.num_features
            norm.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            norm.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if norm.affine:
                norm.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
                norm.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)
    return net.eval()


def _assert_folds(net: nn.Module, x: torch.Tensor) -> None:
    net = _with_batch_statistics(net)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules()), "a norm was left unfolded"
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()), "folding must not touch the original"
    with torch.no_grad():
        expected, got = net(x), folded(x)
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()


@pytest.mark.parametrize("model", ["resnet18", *(pytest.param(m, marks=pytest.mark.slow) for m in
                                                 ("resnet50", "mobilenet_v3_large", "shufflenet_v2_x1_0", "efficientnet_lite0"))])
def test_every_convolutional_family_folds_to_the_same_features(model):
    trunk = Encoder(EncoderConfig(model=model, weights="random")).trunk
    _assert_folds(trunk, torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)))


def test_the_vae_encoder_folds_to_the_same_features():
    _assert_folds(VAEEncoder(VAEConfig()), torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))


def test_a_norm_after_another_layer_is_left_alone():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4)).eval()
    folded = fold_batchnorm(net)
    assert isinstance(folded[2], nn.BatchNorm2d)


def test_folding_a_network_in_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
