"""smartpole installed the way a user installs it (non-editable, into a virtualenv of its
own, with a lock as constraints) leaves the environment intact: `smartpole[grafana]`
brings the real urllib3, not urllib3-future (which installs over urllib3 and breaks
requests-based tools), `dashboards build` needs no extra, and `dashboards push` without
it says what to install instead of a traceback. The dev venv the tests run in (made by
scripts/bootstrap from requirements/dev.lock) is checked the same way.

The installs use the pip cache, so they take seconds once scripts/bootstrap has run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.deploy.launch import REPO

LOCKS = REPO / "requirements"
PROBE = Path(__file__).with_name("urllib3_probe.py")
PIP_TIMEOUT_S = 240  # a cold pip cache downloads everything
# urllib3-future and what comes with niquests: none of them belongs in our environments.
FOREIGN = {"urllib3-future", "niquests", "jh2", "qh3", "wassima"}


def _run(args: list[str | Path], cwd: Path, timeout: float = PIP_TIMEOUT_S) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTPOLE_", "VIRTUAL"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}:\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def _source_copy(target: Path) -> Path:
    """What the sdist holds: pyproject.toml, the README and the packages, so the build
    writes nothing into the checkout."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    for pattern in patterns:
        top = pattern.rstrip("*").rstrip(".")
        if "." not in top and (REPO / top).is_dir():
            shutil.copytree(REPO / top, target / top, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _new_venv(path: Path) -> Path:
    """A virtualenv as `python3 -m venv` makes it, with pip and the build backend from
    build.lock (an older pip cannot take hashes in a constraints file)."""
    _run([sys.executable, "-m", "venv", path], path.parent)
    python = path / "bin" / "python"
    lock = LOCKS / "build.lock"
    _run([python, "-m", "pip", "install", "-q", "--require-hashes", "-r", lock], path.parent)
    return python


def _build_wheel(python: Path, root: Path) -> Path:
    source = _source_copy(root / "src")
    wheel_dir = root / "dist"
    pip_wheel = [python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, source, "--wheel-dir", wheel_dir], root)
    (wheel,) = wheel_dir.glob("smartpole-*.whl")
    return wheel


def _install(python: Path, wheel: Path, extras: str, lock: str) -> None:
    """pip install smartpole[extras] from the wheel, every version and hash from the lock:
    the lock is a constraint, so pip resolves pyproject.toml's dependencies itself."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirement = python.parent.parent / "smartpole.txt"
    requirement.write_text(
        f"smartpole{extras} @ {wheel.as_uri()} --hash=sha256:{digest}\n", encoding="utf-8"
    )
    _run(
        [python, "-m", "pip", "install", "-q", "-c", LOCKS / lock, "-r", requirement],
        python.parent.parent,
    )


def _probe(python: Path | str, cwd: Path) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads(_run([python, PROBE], cwd, timeout=60))
    return facts


def _assert_real_urllib3(facts: dict[str, Any], where: str) -> None:
    assert "error" not in facts, f"{where}: {facts['error']}"
    assert not FOREIGN & set(facts["distributions"]), (
        f"{where}: {sorted(FOREIGN & set(facts['distributions']))} installed (urllib3-future "
        "replaces urllib3): grafana-client must stay below 4 (pyproject.toml, grafana extra)"
    )
    assert not facts["urllib3_future_module"], f"{where}: a urllib3_future module is importable"
    assert facts["urllib3_module_version"] == facts["urllib3_distribution_version"], (
        f"{where}: `import urllib3` is {facts['urllib3_module_version']} from "
        f"{facts['urllib3_file']}, the urllib3 distribution is "
        f"{facts['urllib3_distribution_version']}"
    )
    assert not facts["urllib3_changed_files"], (
        f"{where}: urllib3's files were overwritten: {facts['urllib3_changed_files'][:5]}"
    )
    assert facts["requests"] == {"status": 200, "body_ok": True, "pool_keys": 1}, (
        f"{where}: requests against a local http.server: {facts['requests']}"
    )


def test_a_fresh_venv_runs_without_the_extra_and_keeps_urllib3_with_it(tmp_path: Path) -> None:
    python = _new_venv(tmp_path / "venv")
    wheel = _build_wheel(python, tmp_path)
    smartpole = python.parent / "smartpole"

    # smartpole alone: `dashboards build` works, `dashboards push` says what to install.
    _install(python, wheel, "", "runtime.lock")
    installed = json.loads(_run([python, "-m", "pip", "list", "--format=json"], tmp_path))
    names = {entry["name"].lower().replace("_", "-") for entry in installed}
    assert "smartpole" in names
    assert not names & (FOREIGN | {"grafana-client", "requests", "urllib3"}), names
    _run([smartpole, "dashboards", "build", "--check"], tmp_path)
    target = [
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--datasource-url",
        "postgresql://g@db/sp",
    ]
    push = subprocess.run(
        [smartpole, "dashboards", "push", *target],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert push.returncode == 1, push
    assert "install smartpole[grafana]" in push.stderr, push.stderr
    assert "Traceback" not in push.stderr, push.stderr

    # With the grafana extra: grafana-client, and still the real urllib3.
    _install(python, wheel, "[grafana]", "grafana.lock")
    facts = _probe(python, tmp_path)
    assert "grafana-client" in facts["distributions"]
    _assert_real_urllib3(facts, "a fresh venv with smartpole[grafana]")


def test_the_dev_venv_keeps_the_real_urllib3(tmp_path: Path) -> None:
    facts = _probe(sys.executable, tmp_path)
    assert {"grafana-client", "schemathesis", "import-linter"} <= set(facts["distributions"])
    _assert_real_urllib3(facts, f"the dev venv ({sys.prefix})")
