"""Secrets never leave a NatsSpec in printable form (SPEC section 9): its label, shown URL
and repr write user info as user:*** and leave passwords and tokens out."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from store import NatsSpec
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
