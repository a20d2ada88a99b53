"""Secrets never leave a NatsSpec in printable form (SPEC section 9): its label, shown URL
and repr write user info as user:*** and leave passwords and tokens out."""

from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import NatsSpec, StoreError
from store.audit import Action, Actor, AuditEvent, AuditPhase
from store.dev.local_nats import free_port
from store.kv.connection import _describe, connect, secrets_of
from store.spec import redact_url

# a comma separates URLs, so a password holding one must be percent-encoded (as in any URL);
# the "Pw" start keeps a generated secret from being a piece of the host text
secret = st.text(string.ascii_letters + string.digits + "-_.~!$&'()*+;=%", max_size=30).map(lambda s: "Pw" + s)
user = st.text(string.ascii_lowercase, min_size=1, max_size=10)


@given(user, secret, st.sampled_from(["nats://", "tls://", ""]))
def test_user_and_password_in_a_url_are_shown_as_user_stars(name, password, scheme):
    url = f"{scheme}{name}:{password}@127.0.0.1:4222"
    spec = NatsSpec(url=f"{url},{scheme}127.0.0.1:4223")
    for text in (spec.label, spec.shown_url, repr(spec), redact_url(url)):
        assert password not in text
        assert f"{name}:***@127.0.0.1:4222" in text
    assert spec.nats_user == name


@given(secret)
def test_tokens_and_passwords_given_apart_are_never_shown(token):
    spec = NatsSpec(url=f"nats://{token}@127.0.0.1:4222", user="ops", password=token + "pw",
                    token=token + "tk")
    for text in (spec.label, spec.shown_url, repr(spec)):
        assert token not in text
    assert "***@127.0.0.1:4222" in spec.label and "user=ops" in spec.label


def test_plain_urls_are_left_alone():
    assert redact_url(" nats://127.0.0.1:4222 ") == "nats://127.0.0.1:4222"
    assert NatsSpec(url="nats://a:4222,nats://b:4222").shown_url == "nats://a:4222,nats://b:4222"


# -- URL shapes: user info with any printable characters, IPv6 hosts, several servers ----------

#: any printable character, Unicode too; not ",scheme://" (which starts the next server: a
#: list is ambiguous there) and not a whitespace that ends a word in an error line
printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x7f")
any_secret = st.text(printable, min_size=1, max_size=24).map(lambda s: f"Pw{s}Qz").filter(
    lambda s: not re.search(r",\s*[A-Za-z][A-Za-z0-9+.-]*://", s))
any_user = st.text(printable.filter(lambda c: c not in ":"), min_size=1, max_size=10).filter(
    lambda s: not re.search(r",\s*[A-Za-z][A-Za-z0-9+.-]*://", s))
hosts = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "[fe80::1%25eth0]", "nats-1.example.com"])
ports = st.sampled_from(["", ":4222", ":14222"])


@st.composite
def servers(draw) -> list[tuple[str, str, str | None, str | None, str]]:
    """(scheme, user, password, token, host) of 1 to 3 servers; one with user info has a scheme."""
    found = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["none", "password", "token"]))
        scheme = draw(st.sampled_from(["nats://", "tls://"] + ([""] if kind == "none" or i == 0 else [])))
        user = draw(any_user) if kind == "password" else ""
        # a token holding ":" would be a user and a password: the URL cannot say otherwise
        secret = (draw(any_secret.filter(lambda s: ":" not in s)) if kind == "token"
                  else draw(any_secret) if kind == "password" else None)
        found.append((scheme, user, secret if kind == "password" else None, secret if kind == "token" else None,
                      draw(hosts) + draw(ports)))
    return found


def url_of(shape) -> tuple[str, str, list[str]]:
    """The URL, what it must be shown as, and its secrets."""
    written, shown, secrets = [], [], []
    for scheme, user, password, token, host in shape:
        if password is not None:
            written.append(f"{scheme}{user}:{password}@{host}")
            shown.append(f"{scheme}{user}:***@{host}")
            secrets.append(password)
        elif token is not None:
            written.append(f"{scheme}{token}@{host}")
            shown.append(f"{scheme}***@{host}")
            secrets.append(token)
        else:
            written.append(scheme + host)
            shown.append(scheme + host)
    return ",".join(written), ",".join(s.strip() for s in shown), secrets  # each server stripped


@settings(max_examples=300)
@given(servers())
def test_no_secret_in_any_label_error_json_or_audit_field(shape):
    url, shown, secrets = url_of(shape)
    spec = NatsSpec(url=url)
    assert spec.shown_url == shown
    assert len(spec.servers) == len(shape)
    event = AuditEvent(id="e1", at=0, phase=AuditPhase.DONE, actor=Actor.local(spec.label),
                       action=Action.MIGRATE, target=f"sqlite:/x.sqlite -> {spec.label}")
    error = _describe(OSError(f"nats: invalid connect url option {url}"), secrets_of(spec))
    texts = [spec.label, spec.shown_url, repr(spec), event.to_json(), json.dumps({"backend": spec.label}),
             error, *(redact_url(u) for u in spec.servers)]
    for secret in secrets:
        for text in texts:
            assert secret not in text and json.dumps(secret)[1:-1] not in text


@settings(max_examples=15, deadline=None)
@given(servers())
async def test_no_secret_in_a_connect_error(shape):
    """A real connect to nothing listening (a loopback port that is closed): its error line."""
    shape = [(scheme, user, password, token, host.split("]")[0] + "]" if host.startswith("[") else "127.0.0.1")
             for scheme, user, password, token, host in shape]
    port = free_port()
    url, _, secrets = url_of([(s, u, p, t, f"{h}:{port}") for s, u, p, t, h in shape])
    with pytest.raises(StoreError) as failed:
        await connect(NatsSpec(url=url, op_timeout=0.3))
    for secret in secrets:
        assert secret not in str(failed.value)


def test_the_reported_urls_are_shown_without_their_secrets():
    """A password holding "@" (found at 5103f4f in every label, health --json and the audit
    trail's actor.via) and one holding "/" (printed whole in a connect error)."""
    for url, shown in (("nats://root:top@SECRETX@127.0.0.1:4222", "nats://root:***@127.0.0.1:4222"),
                       ("nats://root:pa/ss@127.0.0.1:4222", "nats://root:***@127.0.0.1:4222"),
                       ("nats://root:a%40b:c@[::1]:4222", "nats://root:***@[::1]:4222"),
                       ("nats://u:x,y@127.0.0.1:4222,nats://127.0.0.1:4223",
                        "nats://u:***@127.0.0.1:4222,nats://127.0.0.1:4223")):
        spec = NatsSpec(url=url)
        assert spec.shown_url == shown and spec.nats_user in ("root", "u")
        via = Actor.local(spec.label).via
        assert via.startswith("nats:" + shown)
    assert redact_url("nats://a:b@not a host!") == "(an unreadable URL for host not)"
