"""The README's two commands on a really fresh machine (scripts/fresh-machine-check).

A minimal Debian 12 (`debootstrap --variant=minbase bookworm`, from the same package
mirror as this machine) gets only `make`, `git` and `python3-venv` (and ca-certificates),
and a `git clone` of the committed HEAD of this checkout in /root/smartpole. There, as
root, without a terminal or stdin, it runs the commands of the README's "Run the tests"
and "Run it" sections exactly as written:

* `make test`, which must pass;
* `make run`, in the background, until its banner "smartpole is running"; then `/health`
  must answer and `/v1/poles` list poles within a minute or so; then SIGINT to its
  process group (Ctrl-C) must stop it cleanly ("smartpole up: stopped", no traceback,
  nothing left running).

A summary at the end gives each step's result, duration and last lines of output.

How the machine is made, and why:
* The debootstrap result is cached as a tarball in SMARTPOLE_FMC_CACHE (default
  /var/cache/smartpole-fresh-machine); every run unpacks a pristine copy into a new
  directory under SMARTPOLE_FMC_WORKDIR (default /var/tmp) and deletes it at the end.
  --refresh-base debootstraps anew.
* Each command runs in its own mount and PID namespaces (unshare): /proc, /sys
  (read-only), /dev, a new /dev/pts instance and a tmpfs /dev/shm are mounted there, so
  they vanish with the command, and its processes die with it, even if this script is
  killed. Ctrl-C of this script stops the command and cleans up the same way.
* `make run` also gets a network namespace of its own with only loopback: the local
  PostgreSQL, Mosquitto and API then use their default ports (15432, 11883, 8000)
  whatever else this machine (or another checkout's `make run`) holds. It needs no
  network: `make test` has installed everything before. `make test` keeps the host's
  network (it installs from apt, PyPI and npm); its servers use free ports.
* apt sources: the host's own (/etc/apt/sources.list{,.d}), copied in. Services that
  packages would start (the system PostgreSQL and Mosquitto) are held back by
  /usr/sbin/policy-rc.d, as usual in a chroot: they would meet this machine's on 5432
  and 1883, and smartpole starts its own anyway.
* CA certificates: the ones this machine trusts that no Debian package ships (its
  /usr/local/share/ca-certificates: here, the TLS proxy in front of the package
  registries) are added to the chroot's trust store; without them no fresh machine
  here reaches PyPI or npm.

Needs root, debootstrap (installed from apt when missing), and about 5-15 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ["make", "git", "python3-venv", "ca-certificates"]
CACHE = Path(os.environ.get("SMARTPOLE_FMC_CACHE", "/var/cache/smartpole-fresh-machine"))
# Not /tmp: a machine's worth of files, and /tmp may be a small tmpfs.
WORKDIR = Path(os.environ.get("SMARTPOLE_FMC_WORKDIR", "/var/tmp"))  # noqa: S108
CHECKOUT = "/root/smartpole"  # inside the chroot
PRIVATE_MOUNTS = ["unshare", "--mount", "--propagation", "private", "--"]
TAIL_LINES = 15
BANNER = "smartpole is running"
DEFAULT_PORTS = (15432, 11883, 8000)  # SMARTPOLE_LOCAL_PG_PORT, _LOCAL_MQTT_PORT, _API_PORT
LEFT_RUNNING = "fresh-machine-check: left running:"

# Runs on the host side of the new namespaces, then chroots. $1 root, $2 command,
# $3 "1" to bring up loopback in a new network namespace.
NAMESPACE_SCRIPT = r"""
set -eu
root=$1 command=$2 isolated=$3
[ "$isolated" = 1 ] && ip link set lo up
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
status=0
chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb /bin/bash -c "$command" </dev/null || status=$?
# This shell is PID 1 of the namespace: whatever is still running in it is a leftover,
# and dies when this shell exits.
sleep 1
for proc in "$root"/proc/[0-9]*; do
    pid=${proc##*/}
    [ "$pid" = 1 ] && continue
    [ -r "$proc/cmdline" ] || continue
    echo "fresh-machine-check: left running: $pid $(tr '\0' ' ' <"$proc/cmdline")"
done
exit "$status"
"""


@dataclass
class Step:
    name: str
    passed: bool = False
    seconds: float = 0.0
    log: Path | None = None
    notes: list[str] = field(default_factory=list)

    def tail(self) -> list[str]:
        if self.log is None or not self.log.is_file():
            return []
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "\r" not in line][-TAIL_LINES:]


def say(message: str) -> None:
    print(f"fresh-machine-check: {message}", flush=True)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, text=True, check=True, **kwargs)


# --- the machine -----------------------------------------------------------------------


def apt_source_files() -> dict[str, str]:
    """The host's apt source files apt reads, by path."""
    files = {}
    main = Path("/etc/apt/sources.list")
    if main.is_file():
        files[str(main)] = main.read_text()
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*")):
        if path.suffix in (".list", ".sources") and path.is_file():
            files[str(path)] = path.read_text()
    return files


def debian_mirror(sources: dict[str, str]) -> str:
    """The host's mirror for SUITE main, from one-line or deb822 sources."""
    for text in sources.values():
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 4 and words[0] == "deb":
                words = [w for w in words if not w.startswith("[")]
                if words[2] == SUITE and "main" in words[3:]:
                    return words[1]
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(
                re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE),
            )
            if (
                "deb" in fields.get("Types", "").split()
                and SUITE in fields.get("Suites", "").split()
                and "main" in fields.get("Components", "").split()
                and fields.get("Enabled", "yes") != "no"
            ):
                return fields["URIs"].split()[0]
    return DEFAULT_MIRROR


def ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    say("installing debootstrap")
    run(["apt-get", "update", "-qq"])
    run(
        ["apt-get", "install", "-y", "-qq", "debootstrap"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


def base_tarball(mirror: str, refresh: bool) -> Path:
    arch = run(["dpkg", "--print-architecture"], capture_output=True).stdout.strip()
    key = hashlib.sha256(mirror.encode()).hexdigest()[:8]
    tarball = CACHE / f"{SUITE}-minbase-{arch}-{key}.tar.gz"
    if tarball.is_file() and not refresh:
        say(f"base system: {tarball} (cached; --refresh-base makes it anew)")
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="debootstrap.", dir=CACHE))
    try:
        say(f"debootstrap --variant=minbase {SUITE} from {mirror}")
        started = time.monotonic()
        # Its own mount namespace: the /proc and /sys debootstrap mounts cannot outlive it.
        run(
            [
                *PRIVATE_MOUNTS,
                "debootstrap",
                "--variant=minbase",
                SUITE,
                str(staging / "root"),
                mirror,
            ],
            stdout=subprocess.DEVNULL,
        )
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", str(staging / "root"), "-czf", str(partial), "."])
        partial.rename(tarball)
        say(f"base system cached in {tarball} ({time.monotonic() - started:.0f} s)")
    finally:
        _remove_tree(staging)
    return tarball


def mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ")
        if mount_point.startswith(prefix) or mount_point == prefix[:-1]:
            found.append(mount_point)
    return found


def _remove_tree(path: Path) -> None:
    """rm -rf, but never through a mount point (a bound /dev must not be emptied)."""
    if not path.exists():
        return
    if mounts_below(path):
        say(f"NOT removing {path}: still mounted there: {', '.join(mounts_below(path))}")
        return
    run(["rm", "-rf", "--one-file-system", str(path)])


def processes_in(root: Path) -> Iterator[int]:
    """This machine's processes whose root directory is the chroot (ours, by pid)."""
    target = str(root.resolve())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") == target:
                    yield int(entry.name)
            except OSError:
                continue


STARTED: list[subprocess.Popen[bytes]] = []  # killed at the end, whatever happened


def in_machine(root: Path, command: str, log: Path, *, isolated: bool) -> subprocess.Popen[bytes]:
    """Start `command` (bash) as root in the chroot, in its own namespaces. Killing the
    returned unshare process (SIGKILL included) ends every process of the namespace."""
    unshare = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork"]
    unshare += ["--kill-child"] + (["--net"] if isolated else [])
    flag = "1" if isolated else "0"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*unshare, "--", "bash", "-c", NAMESPACE_SCRIPT, "fmc", str(root), command, flag],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    STARTED.append(process)
    return process


def wait(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def local_ca_certificates() -> list[str]:
    """PEM certificates this machine trusts that no package ships: those in its bundle
    but not under /usr/share/ca-certificates (Debian's ca-certificates)."""
    pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        return []
    shipped = set()
    for path in Path("/usr/share/ca-certificates").glob("**/*.crt"):
        shipped.update(pem.findall(path.read_text(errors="replace")))
    return [cert for cert in pem.findall(bundle.read_text()) if cert not in shipped]


# --- the steps -------------------------------------------------------------------------


def readme_command(section: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    body = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", body, re.DOTALL)
    assert block, f"README section {section!r} has no sh block"
    lines = [line for line in block[1].splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1, f"README section {section!r}: expected one command, got {lines}"
    return lines[0]


def prepare(root: Path, step: Step, sources: dict[str, str], head: str) -> None:
    assert step.log is not None
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    for path, text in sources.items():
        (root / path.lstrip("/")).write_text(text)
        step.notes.append(f"apt source {path}")
    for keyring in sorted(set(re.findall(r"Signed-By:\s*(/\S+)", "\n".join(sources.values())))):
        inside = root / keyring.lstrip("/")
        if Path(keyring).is_file() and not inside.exists():
            inside.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(keyring, inside)
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(
        "#!/bin/sh\n# fresh-machine-check: start no services in the chroot\nexit 101\n"
    )
    policy.chmod(0o755)
    for name in ("etc/resolv.conf", "etc/hosts"):
        (root / name).unlink(missing_ok=True)
        shutil.copy2(Path("/") / name, root / name)

    install = (
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        f"--no-install-recommends {' '.join(PACKAGES)} >/dev/null && "
        "dpkg-query -W -f='${Package} ${Version}\\n' " + " ".join(PACKAGES)
    )
    code = wait(in_machine(root, install, step.log, isolated=False), 1800)
    if code != 0:
        raise RuntimeError(f"installing {' '.join(PACKAGES)} failed ({code})")

    extra = local_ca_certificates()
    for number, cert in enumerate(extra):
        (root / f"usr/local/share/ca-certificates/host-{number}.crt").write_text(cert + "\n")
    if extra:
        step.notes.append(f"added this machine's {len(extra)} local CA certificate(s)")
        code = wait(
            in_machine(root, "update-ca-certificates >/dev/null", step.log, isolated=False), 300
        )
        if code != 0:
            raise RuntimeError(f"update-ca-certificates failed ({code})")

    target = root / CHECKOUT.lstrip("/")
    run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(target)])
    run(["git", "-C", str(target), "checkout", "-q", "--detach", head])
    run(["git", "-C", str(target), "remote", "remove", "origin"])
    step.notes.append(f"cloned {head[:12]} into {CHECKOUT}")


def make_test(root: Path, step: Step, command: str) -> None:
    assert step.log is not None
    code = wait(in_machine(root, f"cd {CHECKOUT} && {command}", step.log, isolated=False), 3600)
    step.notes.append(f"`{command}` exited {code}")
    step.notes.extend(_leftovers(step.log.read_text(errors="replace")))
    step.passed = code == 0
    # What the bootstrap installed: the Node the PGlite test server really ran on.
    versions = step.log.with_suffix(".versions")
    report = "node --version; python3 --version; dpkg-query -W nodejs postgresql mosquitto"
    wait(in_machine(root, report, versions, isolated=False), 60)
    step.notes.append("; ".join(versions.read_text(errors="replace").split("\n")).strip("; "))


def _probe_api(net_of: int, timeout: float) -> dict[str, object]:
    """Poll the API from inside the run's network namespace until it lists poles."""
    probe = r"""
import json, sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[1])
facts = {}
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8000/health", timeout=5) as r:
            facts["health_status"] = r.status
            facts["health"] = json.load(r)
        with urllib.request.urlopen("http://127.0.0.1:8000/v1/poles?limit=5", timeout=5) as r:
            facts["poles_status"] = r.status
            facts["poles"] = [p.get("pole_id") for p in json.load(r).get("items", [])]
        if facts["poles"]:
            break
    except Exception as exc:
        facts["last_error"] = f"{type(exc).__name__}: {exc}"
    time.sleep(2)
print(json.dumps(facts))
"""
    out = run(
        ["nsenter", f"--net=/proc/{net_of}/ns/net", sys.executable, "-c", probe, str(timeout)],
        capture_output=True,
        timeout=timeout + 30,
    ).stdout
    facts: dict[str, object] = json.loads(out)
    return facts


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def make_run(root: Path, step: Step, command: str) -> None:
    assert step.log is not None
    taken = [port for port in DEFAULT_PORTS if _port_taken(port)]
    step.notes.append(
        f"host ports {'/'.join(map(str, DEFAULT_PORTS))}: "
        + (f"{taken} taken here" if taken else "free here")
        + " (make run has a network namespace of its own either way)"
    )
    # setsid: its own process group, which is what a terminal's Ctrl-C signals.
    process = in_machine(root, f"cd {CHECKOUT} && setsid --wait {command}", step.log, isolated=True)
    deadline = time.monotonic() + 600
    while BANNER not in step.log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            step.notes.append(f"no banner {BANNER!r} (exit {process.poll()})")
            return
        time.sleep(1)
    banner_at = time.monotonic()
    leaders = [p for p in processes_in(root) if _comm(p) == "make" and _leads_group(p)]
    if not leaders:
        step.notes.append("the banner came, but no `make` process group was found")
        return
    make_pid = leaders[0]
    facts = _probe_api(make_pid, 90)
    health_ok = facts.get("health_status") == 200
    poles = facts.get("poles") or []
    step.notes.append(
        f"/health {facts.get('health_status')}: {json.dumps(facts.get('health'))[:160]}"
    )
    waited = time.monotonic() - banner_at
    step.notes.append(
        f"/v1/poles {facts.get('poles_status')}: {poles} ({waited:.0f} s after the banner)"
    )
    if "last_error" in facts:
        step.notes.append(f"last error while polling: {facts['last_error']}")
    os.killpg(make_pid, signal.SIGINT)
    sent = time.monotonic()
    code = wait(process, 120)
    output = step.log.read_text(errors="replace")
    stopped = "smartpole up: stopped" in output
    left = _leftovers(output)
    step.notes.append(
        f"SIGINT: exited {code} after {time.monotonic() - sent:.0f} s; "
        f"{'smartpole up: stopped' if stopped else 'NO smartpole up: stopped'}; "
        f"{'a Traceback in the output' if 'Traceback' in output else 'no traceback'}; "
        f"{len(left)} process(es) left running"
    )
    step.notes.extend(left)
    step.passed = (
        health_ok
        and bool(poles)
        and code is not None
        and stopped
        and "Traceback" not in output
        and not left
    )


def _leftovers(output: str) -> list[str]:
    return [line for line in output.splitlines() if LEFT_RUNNING in line]


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# --- the run ---------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def summary(steps: list[Step], head: str, mirror: str, total: float) -> bool:
    print("\n" + "=" * 78)
    print(f"fresh-machine-check summary: Debian {SUITE} minbase ({mirror}), commit {head[:12]}")
    for step in steps:
        print(
            f"\n--- {step.name}: {'PASS' if step.passed else 'FAIL'} in {_duration(step.seconds)}"
        )
        for note in step.notes:
            print(f"    {note}")
        tail = step.tail()
        if tail:
            print(f"    last lines of {step.log}:")
            for line in tail:
                print(f"    | {line}")
    ok = bool(steps) and all(step.passed for step in steps)
    print()
    for step in steps:
        print(f"{step.name:<12} {'PASS' if step.passed else 'FAIL'}  {_duration(step.seconds)}")
    print(f"{'total':<12} {'PASS' if ok else 'FAIL'}  {_duration(total)}")
    return ok


def run_steps(root: Path, logs: Path, tarball: Path, head: str) -> list[Step]:
    sources = apt_source_files()
    commands = {"make test": readme_command("Run the tests"), "make run": readme_command("Run it")}
    assert commands == {"make test": "make test", "make run": "make run"}, commands
    plan = [
        ("prepare", lambda s: prepare(root, s, sources, head)),
        ("make test", lambda s: make_test(root, s, commands["make test"])),
        ("make run", lambda s: make_run(root, s, commands["make run"])),
    ]
    steps: list[Step] = []
    try:
        root.mkdir()
        run(["tar", "--numeric-owner", "-C", str(root), "-xzf", str(tarball)])
        say(f"machine unpacked in {root}; logs in {logs}")
        for name, action in plan:
            step = Step(name, log=logs / f"{name.replace(' ', '-')}.log")
            steps.append(step)
            say(f"{name} (log: {step.log})")
            begun = time.monotonic()
            try:
                action(step)
                step.passed = step.passed or name == "prepare"
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                step.notes.append(f"error: {exc}")
            finally:
                step.seconds = time.monotonic() - begun
            say(f"{name}: {'PASS' if step.passed else 'FAIL'} in {_duration(step.seconds)}")
            if name == "prepare" and not step.passed:
                break
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        if steps:
            steps[-1].notes.append("interrupted")
    return steps


def clean_up(work: Path, root: Path, *, keep: bool) -> None:
    """Stop whatever runs in the machine (by pid: only processes rooted in it), then
    remove it unless asked to keep it."""
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait()
    for pid in list(processes_in(root)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while list(processes_in(root)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if keep:
        say(f"kept {work}")
    else:
        _remove_tree(work)


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--refresh-base", action="store_true", help="debootstrap anew")
    parser.add_argument("--keep", action="store_true", help="keep the unpacked machine afterwards")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("fresh-machine-check: needs root (debootstrap, chroot, namespaces)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)

    head = run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True).stdout.strip()
    if run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True).stdout.strip():
        say("the checkout has uncommitted changes: only the committed HEAD is checked")
    started = time.monotonic()
    mirror = debian_mirror(apt_source_files())
    ensure_debootstrap()
    tarball = base_tarball(mirror, args.refresh_base)

    WORKDIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="smartpole-fmc.", dir=WORKDIR))
    logs = Path(tempfile.mkdtemp(prefix="smartpole-fmc-logs.", dir=WORKDIR))
    try:
        steps = run_steps(work / "root", logs, tarball, head)
    finally:
        clean_up(work, work / "root", keep=args.keep)
    ok = summary(steps, head, mirror, time.monotonic() - started)
    print(f"logs: {logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
