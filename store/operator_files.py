"""The operator's own files (SPEC section 9): natscli's context.txt and context JSON, the
tool's config.toml, and the CA, client certificate, key, creds and nkey seed files.

Each must be a regular file. A FIFO would block the command that opens it (authorize
included) until something writes to it, a device may never end, a directory is a mistake:
all are InvalidInput (exit 2) at once. Files are opened without blocking (O_NONBLOCK) and
checked on the open descriptor, so nothing swapped in between the check and the read is
read. A file that is not what its flag expects (a CA without a certificate, creds without a
JWT) is InvalidInput with a plain sentence, never a library's internal message. A secret
file others may read is allowed, with a warning a command prints (as ssh does).
"""

from __future__ import annotations

import os
import stat

from .errors import InvalidInput
from .spec import NatsSpec

#: no operator file is larger: a bigger one is not what its flag expects
MAX_SIZE = 1 << 20


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_file(path: str | os.PathLike[str], what: str, *, missing_ok: bool = False) -> bytes | None:
    """The bytes of a regular file. Raises InvalidInput naming what (e.g. "CA file") for a
    missing file (None with missing_ok), a FIFO, device, directory or socket, one that
    cannot be read or is larger than MAX_SIZE."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise InvalidInput(f"cannot use {what} {path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"cannot use {what} {path}: it is a directory, not a regular file") from None
    except OSError as e:
        raise InvalidInput(f"cannot use {what} {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"cannot use {what} {path}: it is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > MAX_SIZE:
            raise InvalidInput(f"cannot use {what} {path}: {st.st_size} bytes, larger than such a file is")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise InvalidInput(f"cannot use {what} {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], what: str, *, missing_ok: bool = False) -> str | None:
    """A regular file's UTF-8 text (see read_file)."""
    data = read_file(path, what, missing_ok=missing_ok)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"cannot use {what} {path}: not UTF-8 text") from None


def check_files(spec: NatsSpec) -> None:
    """The operator's files of these settings are regular files holding what their flags
    expect. Raises InvalidInput with a plain sentence."""
    if spec.ca:
        check_ca(spec.ca)
    if spec.cert and spec.key:
        check_cert(spec.cert, spec.key)
    if spec.creds:
        check_creds(spec.creds)
    if spec.nkey:
        check_nkey(spec.nkey)


def check_ca(path: str) -> str:
    """The PEM text of a CA file. Raises InvalidInput when it holds no certificate."""
    text = _pem(path, "CA file")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InvalidInput(f"cannot use CA file {path}: it holds no certificate "
                           "(expected PEM: -----BEGIN CERTIFICATE-----)")
    return text


def check_cert(path: str, key: str) -> None:
    """A client certificate and its key. Raises InvalidInput when either is not one."""
    if "-----BEGIN CERTIFICATE-----" not in _pem(path, "client certificate"):
        raise InvalidInput(f"cannot use client certificate {path}: it holds no certificate "
                           "(expected PEM: -----BEGIN CERTIFICATE-----)")
    if "PRIVATE KEY-----" not in _pem(key, "client key"):
        raise InvalidInput(f"cannot use client key {key}: it holds no private key "
                           "(expected PEM: -----BEGIN PRIVATE KEY-----)")


def check_creds(path: str) -> None:
    """A NATS credentials file: a user JWT and a user nkey seed. Raises InvalidInput."""
    text = _pem(path, "credentials file")
    if "BEGIN NATS USER JWT" not in text:
        raise InvalidInput(f"cannot use credentials file {path}: it holds no NATS user JWT "
                           "(expected -----BEGIN NATS USER JWT-----)")
    lines = text.splitlines()
    seeds = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if "BEGIN USER NKEY SEED" in line]
    if not seeds or not _is_user_seed(seeds[0]):
        raise InvalidInput(f"cannot use credentials file {path}: it holds no user nkey seed "
                           "(expected -----BEGIN USER NKEY SEED----- and a seed starting SU)")


def check_nkey(path: str) -> None:
    """An nkey seed file: one user seed. Raises InvalidInput."""
    if not _is_user_seed(_pem(path, "nkey seed file").strip()):
        raise InvalidInput(f"cannot use nkey seed file {path}: it holds no user nkey seed (one line starting SU)")


def _is_user_seed(text: str) -> bool:
    if not text.startswith("SU"):
        return False
    import nkeys  # type: ignore[import-untyped]  # only when a seed is to be checked

    try:
        nkeys.from_seed(bytearray(text.encode()))
    except Exception:  # nkeys raises its own errors, and binascii's, for a bad seed
        return False
    return True


def _pem(path: str, what: str) -> str:
    data = read_file(path, what)
    assert data is not None
    return data.decode("utf-8", errors="replace")


def open_to_others(path: str, what: str) -> str | None:
    """A warning when a secret file (creds, nkey seed, TLS key) may be read or written by
    others than its owner, None otherwise (or when it cannot be looked at)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) and mode & 0o077:
        return (f"warning: {what} {path} is open to others (mode {stat.S_IMODE(mode):04o}): "
                f"chmod 600 {path}")
    return None
