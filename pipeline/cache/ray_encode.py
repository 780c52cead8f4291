"""The encode stage on Ray (backend ray): the frames file's batches are encoded on a pool of Ray actors (GPU
actors where the cluster has GPUs, else CPU ones), each running the same Encoder; the driver reads the frames,
sends each batch through Ray's object store and writes the shards of the same Zarr store in batch order, so the
store is byte-identical to the local backend's where the encoder is (CPU fp32).

Ray's ActorPool hands batches to idle actors and returns their features in submission order; at most one batch
per actor is in flight, so memory stays bounded whatever the dataset size. An actor that dies is restarted by
Ray and its batch retried (`max_restarts`, `max_task_retries`): a batch's features depend only on its frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from pipeline.cluster import RayConfig, actor_failure, connect, encoder_gpus, gpus_in_cluster, require
from pipeline.encoders.encoder import Encoder, EncoderConfig
from pipeline.errors import PipelineError

ACTOR_RESTARTS = 3


class EncodeActor:
    """One encoder of the pool (the actor's class, wrapped by ray.remote in RayBatchEncoder)."""

    def __init__(self, config: EncoderConfig):
        self.encoder = Encoder(config)

    def describe(self) -> tuple[dict[str, str], int]:
        return self.encoder.key(), self.encoder.dim

    def encode(self, frames: np.ndarray) -> np.ndarray:
        # the object store hands out read-only arrays, which torch will not wrap: one copy, small beside a forward
        return self.encoder.encode(np.array(frames)).numpy()


class RayBatchEncoder:
    """A BatchEncoder (pipeline/cache/encode.py) over a pool of `ray.encode_actors` Ray actors."""

    def __init__(self, config: EncoderConfig, ray_config: RayConfig):
        self.ray = connect(ray_config, cpus_needed=ray_config.encoder_cpus * (ray_config.encode_actors or 2))
        gpus = encoder_gpus(ray_config, config.device)
        actors = ray_config.encode_actors or (gpus_in_cluster() if gpus else 2)
        require(ray_config.encoder_cpus * actors, gpus * actors, f"{actors} encode actors")
        actor_class = self.ray.remote(EncodeActor).options(num_cpus=ray_config.encoder_cpus, num_gpus=gpus,
                                                           max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS)
        self.actors = [actor_class.remote(config) for _ in range(actors)]
        try:
            described = self.ray.get([actor.describe.remote() for actor in self.actors])
        except self.ray.exceptions.RayError as exc:
            self.close()
            raise PipelineError(f"an encode actor could not start: {actor_failure(exc)}") from None
        self.key, self.dim = described[0]
        if any(key != self.key for key, _ in described):  # e.g. precision auto on nodes with and without bf16
            self.close()
            diffs = sorted({k for key, _ in described for k in key if key[k] != self.key.get(k)})
            raise PipelineError(f"the encode actors run different encoders ({', '.join(diffs)} differ between "
                                "nodes): set encode.precision and encode.device explicitly")

    def map(self, batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        from ray.util import ActorPool

        pool = ActorPool(self.actors)
        try:
            for batch in batches:
                if not pool.has_free():
                    yield pool.get_next()  # the oldest batch: features come back in batch order
                pool.submit(lambda actor, frames: actor.encode.remote(frames), batch)
            while pool.has_next():
                yield pool.get_next()
        except self.ray.exceptions.RayError as exc:
            raise PipelineError(f"encoding on Ray failed: {actor_failure(exc)}") from None

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []
