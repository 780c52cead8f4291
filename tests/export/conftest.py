import os
import tempfile

# huggingface `datasets` (under lerobot) reads these when first imported: keep its caches out of the home folder and
# never reach for the Hub (a LeRobot export is opened from its local folder)
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="rrl-pipe-hf-"))
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(os.environ["HF_HOME"], "datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
