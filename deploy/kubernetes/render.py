"""Renders a kustomization offline with `kubectl kustomize` and prints its objects as one JSON
array, for validate.mjs (node has no YAML parser among the project's packages; PyYAML is in the
virtualenv). Extra YAML files given after the kustomization (secrets.example.yaml) are added.

    python deploy/kubernetes/render.py deploy/kubernetes/overlays/production [more.yaml ...]
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    # kubectl from PATH, as make runs it; the path is the operator's own argument.
    rendered = subprocess.run(["kubectl", "kustomize", sys.argv[1]], capture_output=True, text=True)  # noqa: S603, S607
    if rendered.returncode != 0:
        print(rendered.stderr, file=sys.stderr, end="")
        return 1
    documents = [rendered.stdout, *(Path(extra).read_text() for extra in sys.argv[2:])]
    objects = [obj for text in documents for obj in yaml.safe_load_all(text) if obj is not None]
    json.dump(objects, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
