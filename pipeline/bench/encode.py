"""`rrl-pipe bench encode`: (a) the model's bare forward pass at its best batch size and precision (the ceiling),
(b) the full path from a frames file to a complete feature store, (c) the reference code's way: one frame at a
time, PIL resize and crop, fp32. All three in one run, on the same frames; medians of repeats. Beside (a), the same
bare forward with the batch norms left unfolded: what folding them into the convolutions gains.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from pipeline.bench.common import median_of, table
from pipeline.cache.encode import encode_frames
from pipeline.encoders.encoder import PRECISIONS, Encoder, EncoderConfig, resolve_device, resolve_precision
from pipeline.encoders.preprocess import IMAGENET_MEAN, IMAGENET_STD
from pipeline.errors import PipelineError
from pipeline.formats.frames import FramesFile
from pipeline.render.config import RenderDemosConfig
from pipeline.render.stage import render_demos


def _make_frames(tmp: Path, n_frames: int) -> Path:
    from pipeline.demos.rollout import RandomPolicy, rollout
    from pipeline.formats.demos import write_demos
    from pipeline.tasks import make_env

    env = make_env("door")
    episodes, left, seed = [], n_frames, 0
    while left > 0:
        steps = min(env.horizon, left) - 1
        episodes.append(rollout(env, RandomPolicy(env.action_dim), seed, max(steps, 1)))
        left -= episodes[-1].length + 1
        seed += 1
    write_demos(tmp / "demos.h5", "door", "bench", episodes, "sparse")
    render_demos(tmp / "demos.h5", tmp / "frames.h5", RenderDemosConfig(size=256, workers=2), progress=False)
    return tmp / "frames.h5"


def _input_shape(encoder: Encoder) -> tuple[int, ...]:
    """(3, H, W) the network sees after its family's preprocessing (224 px, or the VAE's 64)."""
    return tuple(encoder.preprocess(torch.zeros(1, 3, 256, 256, dtype=torch.uint8)).shape[1:])


# The reference code's way per preprocessing: PIL transforms of one frame (RRL's for ImageNet; DINOv2's and VC-1's
# bicubic ones; the VAE's 64 px resize)
_PIL_TRANSFORMS = {
    "imagenet": lambda: transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]),
    "imagenet_bicubic": lambda: transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(224),
        transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]),
    "vae64": lambda: transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()]),
}


def _ceiling(encoder: Encoder, batch: int, seconds: float = 3.0, module: torch.nn.Module | None = None) -> float:
    """Bare forward on already-preprocessed input: no reading, no preprocessing, no copies back. `module`: another
    network to run in the encoder's place (default: the encoder's own, batch norms folded)."""
    net = module if module is not None else encoder.module
    x = torch.randn(batch, *_input_shape(encoder), device=encoder.device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), encoder._autocast():
        for _ in range(2):
            net(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            net(x)
            n += batch
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def _naive(frames: np.ndarray, model: str, weights: str, device: str) -> float:
    """RRL's reference loop: the same network (NCHW, fc removed), PIL transforms, batch-1 fp32 forward."""
    dev = resolve_device(device)
    encoder = Encoder(EncoderConfig(model=model, weights=weights, device=device, precision="fp32"))
    net = encoder.trunk.to(memory_format=torch.contiguous_format)  # the reference code's network: NCHW, batch norms unfolded
    transform = _PIL_TRANSFORMS[encoder.spec.preprocessing]()
    with torch.no_grad():
        net(transform(Image.fromarray(frames[0])).unsqueeze(0).to(dev))  # warm-up, as the ceiling gets
        start = time.perf_counter()
        for frame in frames:
            net(transform(Image.fromarray(frame)).unsqueeze(0).to(dev)).cpu()
    return len(frames) / (time.perf_counter() - start)


def bench_families(models: tuple[str, ...], weights: str, n_frames: int, naive_frames: int, repeats: int,
                   device: str, batch_sizes: tuple[int, ...], precision: str = "",
                   echo: Callable[[str], None] = print) -> list[dict[str, object]]:
    """bench_encode for each model on the same frames, then one row per model: its bare forward, the full path,
    the naive way."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        echo(f"rendering {n_frames} frames (256x256, door) for the bench ...")
        frames_path = _make_frames(Path(tmp_dir), n_frames)
        results = [bench_encode(m, weights, n_frames, naive_frames, repeats, device, batch_sizes, precision, echo,
                                frames_path) for m in models]
    if len(models) > 1:
        echo(f"\nbench encode, {len(models)} encoders: img/s, median of {repeats}")
        echo(table(["model", "precision", "batch", "(a) bare forward", "(b) full path", "(c) naive", "b/a", "b/c",
                    "folding a/a'"],
                   [[m, r["precision"], r["batch"], r["ceiling"], r["full_path"], r["naive"], r["b_over_a"],
                     r["b_over_c"], r["fold_gain"]] for m, r in zip(models, results)]))
    return results


def bench_encode(model: str, weights: str, n_frames: int, naive_frames: int, repeats: int, device: str,
                 batch_sizes: tuple[int, ...], precision: str = "", echo: Callable[[str], None] = print,
                 frames_path: Path | None = None) -> dict[str, object]:
    """One model; `precision` restricts the ceiling's sweep to one precision (empty: every one this device runs);
    `frames_path`: a frames file to encode (empty: n_frames are rendered for it)."""
    dev = resolve_device(device)
    precisions = []
    for p in PRECISIONS:
        if p == "auto" or (precision and p != precision):  # auto is one of the others, printed below
            continue
        try:
            resolve_precision(p, dev)
            precisions.append(p)
        except PipelineError:
            pass
    echo(f"precision auto runs {resolve_precision('auto', dev)} on {dev}")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if frames_path is None:
            echo(f"rendering {n_frames} frames (256x256, door) for the bench ...")
            frames_path = _make_frames(tmp, n_frames)
        with FramesFile(frames_path) as f:
            sample = f.frames(0, "top")[: min(naive_frames, f.lengths()[0])]
            total = sum(f.lengths())

        # (a) the ceiling: best batch size and precision
        rows = []
        for swept in precisions:
            encoder = Encoder(EncoderConfig(model=model, weights=weights, precision=swept, device=device))
            for batch in batch_sizes:
                rate = median_of(repeats, functools.partial(_ceiling, encoder, batch))
                rows.append((swept, batch, rate))
                echo(f"  ceiling {model} {swept} batch {batch}: {rate:.1f} img/s")
        best_precision, best_batch, ceiling = max(rows, key=lambda r: r[2])
        best = Encoder(EncoderConfig(model=model, weights=weights, precision=best_precision, device=device))
        unfolded_net = best.trunk.to(best.device).to(memory_format=torch.channels_last)
        unfolded = median_of(repeats, lambda: _ceiling(best, best_batch, module=unfolded_net))
        echo(f"  ceiling {model} {best_precision} batch {best_batch}, batch norms unfolded: {unfolded:.1f} img/s")
        emulated = _emulated_bf16(model, weights, device, best_batch, repeats, echo) if "bf16" not in precisions else None

        # (b) the full path with that setting
        def full_path() -> float:
            out = tmp / "store.zarr"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            encode_frames(frames_path, out, EncoderConfig(model=model, weights=weights, precision=best_precision, device=device),
                          batch_size=best_batch, progress=False)
            return total / (time.perf_counter() - start)

        ours = median_of(repeats, full_path)
        echo(f"  full path {best_precision} batch {best_batch}: {ours:.1f} img/s")
        # (c) the reference way
        naive = median_of(repeats, lambda: _naive(sample, model, weights, device))
        echo(f"  naive (batch 1, PIL, fp32): {naive:.1f} img/s")

    echo(f"\nbench encode: {model}, device {dev}, {torch.get_num_threads()} threads, {total} frames, median of {repeats}")
    echo(table(["path", "precision", "batch", "img/s", "vs ceiling"],
               [["(a) ceiling: bare forward", best_precision, best_batch, ceiling, 1.0],
                ["(a') bare forward, batch norms unfolded", best_precision, best_batch, unfolded, unfolded / ceiling],
                ["(b) frames -> complete store", best_precision, best_batch, ours, ours / ceiling],
                ["(c) naive: PIL, batch 1", "fp32", 1, naive, naive / ceiling]]))
    echo(f"b/a = {ours / ceiling:.2f}   b/c = {ours / naive:.2f}   folding a/a' = {ceiling / unfolded:.2f}")
    if emulated is not None:
        fp32 = max(r[2] for r in rows if r[0] == "fp32" and r[1] == best_batch)
        echo(f"bf16 without native support (emulated), batch {best_batch}: {emulated:.1f} img/s = "
             f"{emulated / fp32:.2f} x fp32: why `auto` runs fp32 on this CPU and an explicit bf16 is refused")
    return {
        "ceiling": ceiling,
        "full_path": ours,
        "naive": naive,
        "b_over_a": ours / ceiling,
        "b_over_c": ours / naive,
        "fold_gain": ceiling / unfolded,
        "precision": best_precision,
        "batch": best_batch,
        "sweep": rows,
        "bf16_emulated": emulated,
    }


def _emulated_bf16(model: str, weights: str, device: str, batch: int, repeats: int, echo: Callable[[str], None]) -> float:
    """The ceiling of what `--precision bf16` would run on a CPU without native bf16 (refused there, measured here)."""
    encoder = Encoder(EncoderConfig(model=model, weights=weights, precision="fp32", device=device))
    encoder.precision = "bf16"  # the same module under bf16 autocast: oneDNN emulates it
    rate = median_of(repeats, lambda: _ceiling(encoder, batch))
    echo(f"  ceiling {model} bf16 (emulated) batch {batch}: {rate:.1f} img/s")
    return rate
