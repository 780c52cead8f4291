"""rrl-pipe: offline feature caching and DAPG training after RRL (Shah & Kumar, ICML 2021)."""

__version__ = "0.1.0"
