"""requirements/*.lock (scripts/lock, `make lock`): made from the pyproject.toml that is
committed, every pin hashed, one version of a package across all locks, and nothing
in them that replaces urllib3."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.launch import REPO
from tests.deploy.test_fresh_venv import FOREIGN


def _load_locks_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smartpole_locks", REPO / "scripts" / "locks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locks = _load_locks_module()
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)")


def _entries(lock: Path) -> list[str]:
    """One string per requirement, its continuation lines joined."""
    joined = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line for line in joined.splitlines() if line and not line.lstrip().startswith("#")]


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for entry in _entries(lock):
        match = PIN.match(entry)
        assert match, f"{lock.name}: not an exact pin: {entry[:80]}"
        pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[3]
    return pins


def test_the_locks_are_made_from_the_committed_pyproject() -> None:
    assert locks.stale_locks() == [], "run `make lock` and commit requirements/"


@pytest.mark.parametrize("name", list(locks.LOCKS))
def test_every_pin_is_exact_and_hashed(name: str) -> None:
    lock = locks.LOCK_DIR / name
    for entry in _entries(lock):
        assert PIN.match(entry), f"{name}: not an exact pin: {entry[:80]}"
        assert "--hash=sha256:" in entry, f"{name}: no hash: {entry[:80]}"
    assert not FOREIGN & set(_pins(lock)), f"{name} holds {FOREIGN & set(_pins(lock))}"


def test_a_package_has_one_version_in_every_lock() -> None:
    dev = _pins(locks.LOCK_DIR / "dev.lock")
    for name in ("runtime.lock", "grafana.lock"):
        pins = _pins(locks.LOCK_DIR / name)
        assert pins.keys() <= dev.keys(), f"{name} has packages dev.lock lacks"
        assert {p: dev[p] for p in pins} == pins, name


def test_the_digest_follows_dependencies_not_tool_settings(tmp_path: Path) -> None:
    original = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(original + "\n[tool.example]\nsetting = 1\n", encoding="utf-8")
    assert locks.input_digest(pyproject) == locks.input_digest()
    pyproject.write_text(
        original.replace('    "pyyaml>=6",\n', '    "pyyaml>=6",\n    "rich>=13",\n', 1),
        encoding="utf-8",
    )
    assert locks.input_digest(pyproject) != locks.input_digest()
