"""Random passwords and the files that hold them.

A password is generated here, handed to the broker over the admin channel
(which stores only a salted PBKDF2-SHA512 hash of it) and to whoever needs
it, in a file only its owner can read. It is never logged, never stored in
the database and never put on a command line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

# 32 characters of A-Z a-z 0-9 - _ (192 bits): safe inside URLs and shells.
PASSWORD_BYTES = 24
# What Mosquitto 2.0's dynamic security plugin uses for its own hashes.
DYNSEC_ITERATIONS = 101
DYNSEC_SALT_BYTES = 12


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def dynsec_password_hash(password: str) -> dict[str, Any]:
    """The `password`/`salt`/`iterations` fields of a client in the plugin's
    configuration file, as `mosquitto_ctrl dynsec init` writes them."""
    salt = secrets.token_bytes(DYNSEC_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, DYNSEC_ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": DYNSEC_ITERATIONS,
    }


def write_private(path: Path, content: str | bytes) -> None:
    """Write `path` readable by its owner only (0600), never briefly wider:
    the file is created with that mode, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)  # the umask may have narrowed it further; never wider
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise


def write_password_file(path: Path, password: str) -> None:
    write_private(path, password + "\n")
