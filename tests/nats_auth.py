"""Credentials for tests against a real nats-server: a CA with server and client
certificates, nkey users, operator-mode JWTs with a user .creds file, and a server whose
users have the README's permission blocks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import time
from pathlib import Path

import nkeys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from store.dev.local_nats import NatsNode, find_nats_server, free_port

#: the users of secured_server, by the README's permission set they have
PASSWORDS = {"viewer": "viewer-Secret-1", "admin": "admin-Secret-2", "migrator": "migrator-Secret-3"}
README = Path(__file__).resolve().parents[1] / "README.md"


def permission_blocks() -> str:
    """The three permission sets exactly as the README gives them."""
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- permissions:begin.*?-->\s*```\n(.*?)```\s*<!-- permissions:end -->", text, re.S)
    assert m, "README.md lost its permission blocks"
    return m.group(1)


def start_node(folder: Path, name: str, config: str) -> NatsNode:
    """A nats-server on 127.0.0.1 with config (JetStream on, its store in folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / f"{name}.conf"
    conf.write_text(config)
    node = NatsNode(name, free_port(), folder / name, ["-c", str(conf)])
    node.start(find_nats_server())
    return node


def secured_server(folder: Path) -> tuple[NatsNode, Path]:
    """A server whose users viewer, admin and migrator have the README's permission sets
    (passwords in PASSWORDS), and one more user, an admin by nkey: its seed file is returned."""
    seed = new_user_seed()
    seed_file = folder / "admin.nk"
    folder.mkdir(parents=True, exist_ok=True)
    seed_file.write_bytes(seed + b"\n")
    users = "\n".join(f'{{ user: {role}, password: "{pw}", permissions: ${role.upper()} }}'
                      for role, pw in PASSWORDS.items())
    config = (permission_blocks()
              + f"accounts {{ APP {{ jetstream: enabled, users: [\n{users}\n"
                f"{{ nkey: {public_key(seed)}, permissions: $ADMIN }}\n] }} }}\n")
    return start_node(folder, "secured", config), seed_file


def new_seed(prefix: int) -> bytes:
    return nkeys.encode_seed(os.urandom(32), prefix)


def new_user_seed() -> bytes:
    return new_seed(nkeys.PREFIX_BYTE_USER)


def public_key(seed: bytes) -> str:
    return nkeys.from_seed(seed).public_key.decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(issuer_seed: bytes, subject: str, name: str, nats: dict) -> str:
    """A NATS v2 JWT signed by issuer_seed (ed25519-nkey)."""
    kp = nkeys.from_seed(issuer_seed)
    claims = {"jti": "", "iat": int(time.time()), "iss": kp.public_key.decode(), "name": name,
              "sub": subject, "nats": {**nats, "version": 2}}
    digest = hashlib.new("sha512_256", json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    head = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = _b64(kp.sign(f"{head}.{body}".encode()))
    return f"{head}.{body}.{sig}"


def creds_text(user_jwt: str, user_seed: bytes) -> str:
    return (f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
            f"************************* IMPORTANT *************************\n"
            f"NKEY Seed printed below can be used to sign and prove identity.\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user_seed.decode()}\n------END USER NKEY SEED------\n")


class Certificates:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        now = dt.datetime.now(dt.UTC)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "membership-admin test CA")])
        self._ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                    .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .sign(self._ca_key, hashes.SHA256()))
        self.ca = self._write("ca.pem", self._ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self._leaf("server", server=True)
        self.client_cert, self.client_key = self._leaf("client", server=False)

    def _write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)

    def _leaf(self, name: str, server: bool) -> tuple[str, str]:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"membership-admin {name}")]))
                   .issuer_name(self._ca.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2)))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        return (self._write(f"{name}-cert.pem", cert.public_bytes(serialization.Encoding.PEM)),
                self._write(f"{name}-key.pem", key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
