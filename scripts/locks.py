"""requirements/*.lock: making them from pyproject.toml, and finding them stale.

Each lock is made by uv's universal resolver (every platform and Python >= 3.11 at once,
so one file serves x86_64 and aarch64), pins every package with the hashes of all its
files, and records the digest of what it was resolved from: the parts of pyproject.toml
that decide its content (requires-python, the dependencies, the extras and the build
requirements). A change to those that was not followed by `make lock` is found before
anything is installed; other edits of pyproject.toml (tool settings) leave the locks valid.

    python3 scripts/locks.py --check               exit 1, saying what to run, if a lock is stale
    python3 scripts/locks.py --write UV [--upgrade]  remake every lock with uv (scripts/lock)

Runs with the system python3 (>= 3.11, for tomllib), before any virtualenv exists.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
LOCK_DIR = REPO / "requirements"
DIGEST_PREFIX = "# pyproject-digest: "
MIN_PYTHON = "3.11"

# name: (what it holds, what uv resolves for it). Made in this order: dev.lock is the
# superset, and the runtime and grafana locks are resolved with it as constraints, so a
# package has the same version in every lock.
LOCKS: dict[str, tuple[str, list[str]]] = {
    "build.lock": (
        "pip and the build backend (build-system.requires): installed first, then "
        "smartpole is built with --no-build-isolation",
        ["-"],  # stdin: pip and build-system.requires
    ),
    "dev.lock": (
        "smartpole with its dev and grafana extras: the .venv of scripts/bootstrap",
        ["pyproject.toml", "--extra", "dev"],
    ),
    "runtime.lock": (
        "smartpole alone: the Docker image",
        ["pyproject.toml", "--constraint", "requirements/dev.lock"],
    ),
    "grafana.lock": (
        "smartpole with the grafana extra, for `smartpole dashboards push`",
        ["pyproject.toml", "--extra", "grafana", "--constraint", "requirements/dev.lock"],
    ),
}


def _pyproject(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def build_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    data = _pyproject(pyproject)
    build_system = data["build-system"]
    assert isinstance(build_system, dict)
    return ["pip", *build_system["requires"]]


def input_digest(pyproject: Path = PYPROJECT) -> str:
    data = _pyproject(pyproject)
    project = data["project"]
    assert isinstance(project, dict)
    relevant = {
        "build": build_requirements(pyproject),
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    encoded = json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    with lock.open(encoding="utf-8") as text:
        for line in text:
            if not line.startswith("#"):
                break
            if line.startswith(DIGEST_PREFIX):
                return line[len(DIGEST_PREFIX) :].strip()
    return None


def stale_locks() -> list[str]:
    """The lock files that are missing or were made from other pyproject.toml input."""
    want = input_digest()
    return [
        name
        for name in LOCKS
        if not (LOCK_DIR / name).is_file() or recorded_digest(LOCK_DIR / name) != want
    ]


def write_locks(uv: str, *, upgrade: bool) -> None:
    digest = input_digest()
    LOCK_DIR.mkdir(exist_ok=True)
    for name, (holds, inputs) in LOCKS.items():
        target = LOCK_DIR / name
        # uv keeps the versions already pinned in the output file unless told to upgrade.
        with tempfile.NamedTemporaryFile("w", dir=LOCK_DIR, suffix=".tmp", delete=False) as tmp:
            scratch = Path(tmp.name)
            if target.is_file():
                tmp.write(target.read_text(encoding="utf-8"))
        try:
            subprocess.run(
                [
                    uv, "pip", "compile", *inputs,
                    "--universal", "--python-version", MIN_PYTHON,
                    "--generate-hashes", "--no-header", "--quiet",
                    *(["--upgrade"] if upgrade else []),
                    "--output-file", str(scratch),
                ],
                cwd=REPO,
                input="\n".join(build_requirements()) + "\n" if inputs == ["-"] else None,
                text=True,
                check=True,
            )  # fmt: skip
            body = scratch.read_text(encoding="utf-8")
            header = (
                f"# requirements/{name}: {holds}.\n"
                "# Made by `make lock` (scripts/lock) from pyproject.toml: do not edit.\n"
                f"{DIGEST_PREFIX}{digest}\n"
            )
            target.write_text(header + body, encoding="utf-8")
        finally:
            scratch.unlink(missing_ok=True)
        print(f"wrote requirements/{name}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        stale = stale_locks()
        if stale:
            print(
                "requirements/" + ", requirements/".join(stale) + ": not made from the "
                "dependencies now in pyproject.toml; run `make lock` and commit the result",
                file=sys.stderr,
            )
            return 1
        return 0
    if len(argv) in (2, 3) and argv[0] == "--write" and argv[2:] in ([], ["--upgrade"]):
        write_locks(argv[1], upgrade=argv[2:] == ["--upgrade"])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
