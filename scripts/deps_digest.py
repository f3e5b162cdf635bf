"""Print a digest of pyproject.toml's dependency lists: scripts/lock records it, scripts/setup compares it."""

import hashlib
import json
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
deps = {"dependencies": project.get("dependencies", []), "extras": project.get("optional-dependencies", {})}
print(hashlib.sha256(json.dumps(deps, sort_keys=True).encode()).hexdigest())
