"""A seeded random-init encoder is the same bytes in every fresh process: the encode stage and the rollout service
build it apart, and the service refuses a store whose weights differ. ViT-S/14's truncated-normal init runs erfinv
over tensors large enough for torch to split across threads, the case where MKL's first-call dispatch can race."""

import subprocess
import sys

from pipeline.encoders import Encoder, EncoderConfig

BUILD = ("import torch; torch.set_num_threads(2)\n"
         "from pipeline.encoders import Encoder, EncoderConfig\n"
         "print(Encoder(EncoderConfig(model='dinov2_vits14', weights='random', device='cpu')).key()['weights_sha256'])")


def test_a_random_init_vit_has_the_same_weights_in_fresh_processes():
    here = Encoder(EncoderConfig(model="dinov2_vits14", weights="random", device="cpu")).key()["weights_sha256"]
    fresh = {subprocess.run([sys.executable, "-c", BUILD], capture_output=True, text=True, check=True).stdout.strip()
             for _ in range(2)}
    assert fresh == {here}
