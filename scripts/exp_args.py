"""Print a YAML file of params overrides as `-S section.key=value` arguments for `dvc exp run`."""

import json
import shlex
import sys

import yaml


def main(path: str) -> None:
    overrides = yaml.safe_load(open(path)) or {}
    args = []
    for section, values in overrides.items():
        for key, value in values.items():
            args += ["-S", f"{section}.{key}={json.dumps(value) if isinstance(value, list) else value}"]
    print(" ".join(shlex.quote(a) for a in args))


if __name__ == "__main__":
    main(sys.argv[1])
