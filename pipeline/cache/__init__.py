"""The feature cache: frames file -> Zarr feature store through an Encoder, resumable, and the encode config.

May import (tests/test_layers.py holds it): errors, cluster, atomic, checksum, prefetch, formats, encoders.
"""
