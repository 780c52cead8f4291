"""The on-disk file kinds, one module each: its spec (the tables of docs/formats.md are tested against
`FIELDS`), its writer, its checked reader. Demos (`demos.py`, in memory `episode.py`), rendered frames
(`frames.py`), VAE images (`vae_images.py`), feature stores (`features.py`, Zarr), runs (`runs.py`), and the
sealed-HDF5 layout they share (`hdf5.py`). Outside this package only the readers of external sources
(demos/minari.py: Minari's HDF5 datasets) open HDF5 themselves.

May import (tests/test_layers.py holds it): errors, atomic, checksum, tasks.
"""
