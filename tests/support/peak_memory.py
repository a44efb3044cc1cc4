"""Running a smartpole command in its own process and measuring its peak memory.

The peak is the process's own high-water mark (VmHWM of /proc/self/status,
read when the command returns). rusage's ru_maxrss would not do: it survives
exec, so a child forked from a large parent (pytest, a benchmark holding its
data) reports the parent's size.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

_MARK = "smartpole-peak-rss-kib"
_WRAPPER = f"""
import sys
from smartpole.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print("{_MARK}", peak, file=sys.stderr)
sys.exit(code)
"""


@dataclass(frozen=True, slots=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float


def run_measured(args: list[str], env: dict[str, str], timeout: float = 600) -> Measured:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    lines = done.stderr.splitlines()
    marks = [line for line in lines if line.startswith(_MARK)]
    peak_kib = int(marks[-1].split()[1]) if marks else -1
    stderr = "\n".join(line for line in lines if not line.startswith(_MARK))
    return Measured(done.returncode, done.stdout, stderr, peak_kib / 1024, seconds)
