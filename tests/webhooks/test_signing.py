"""Contract §5.3 and Standard Webhooks: webhook signatures, checked against outside sources."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime

import nacl.exceptions
import nacl.signing
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from atp.webhooks import (
    SignatureError,
    new_hmac_secret,
    new_signing_key,
    public_key_of,
    reference_signature,
    standard_headers,
    verify_reference_signature,
    verify_standard,
)

# Contract §5.3 fixture.
REF_SECRET = "whsec_test"
REF_TS = 1700000000
REF_BODY = b'{"message":"hello"}'
REF_HEADER = "t=1700000000,v1=4c7308b09c49c6b8d68c446406c87e8f9e58c19262d196a851b5d54eeed95cd5"

# Svix / Standard Webhooks test vector (protocols-and-peers §5.1).
SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SVIX_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SVIX_TS = 1614265330
SVIX_BODY = b'{"test": 2432232314}'
SVIX_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

TS = 1_750_000_000
BODY = b'{"delivery":{"id":"dlv_1","mode":"webhook"},"message":{"id":"msg_1"}}'


def _signatures(headers: dict[str, str]) -> dict[str, bytes]:
    return {
        version: base64.b64decode(sig)
        for version, _, sig in (e.partition(",") for e in headers["webhook-signature"].split(" "))
    }


# --- reference scheme -----------------------------------------------------------------


def test_reference_signature_reproduces_the_contract_fixture() -> None:
    assert reference_signature(REF_SECRET, REF_TS, REF_BODY) == REF_HEADER


def test_verify_reference_accepts_the_fixture() -> None:
    verify_reference_signature(REF_HEADER, str(REF_TS), REF_BODY, REF_SECRET, now=REF_TS)


@pytest.mark.parametrize(
    ("header", "timestamp", "body", "secret"),
    [
        (REF_HEADER, str(REF_TS), REF_BODY + b" ", REF_SECRET),
        (REF_HEADER, str(REF_TS), b'{"message":"hellO"}', REF_SECRET),
        (REF_HEADER, str(REF_TS), REF_BODY, "whsec_other"),
        (REF_HEADER, str(REF_TS), REF_BODY, "test"),  # the prefix is part of the key
        (REF_HEADER.upper(), str(REF_TS), REF_BODY, REF_SECRET),
        (REF_HEADER[:-1] + "4", str(REF_TS), REF_BODY, REF_SECRET),
        (REF_HEADER, str(REF_TS + 1), REF_BODY, REF_SECRET),  # header t= differs
        ("", str(REF_TS), REF_BODY, REF_SECRET),
        ("t=1700000000,v1=é", str(REF_TS), REF_BODY, REF_SECRET),
    ],
)
def test_verify_reference_rejects_tampering(
    header: str, timestamp: str, body: bytes, secret: str
) -> None:
    with pytest.raises(SignatureError, match=r"^invalid_signature$"):
        verify_reference_signature(header, timestamp, body, secret, now=int(timestamp))


@pytest.mark.parametrize("now", [REF_TS - 300, REF_TS + 300])
def test_verify_reference_accepts_the_tolerance_edge(now: int) -> None:
    verify_reference_signature(REF_HEADER, str(REF_TS), REF_BODY, REF_SECRET, now=now)


@pytest.mark.parametrize("now", [REF_TS - 301, REF_TS + 301])
def test_verify_reference_rejects_out_of_tolerance(now: int) -> None:
    with pytest.raises(SignatureError, match=r"^timestamp_out_of_tolerance$"):
        verify_reference_signature(REF_HEADER, str(REF_TS), REF_BODY, REF_SECRET, now=now)


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        "abc",
        "1700000000.0",
        "-1700000000",
        " 1700000000",
        "".join(chr(ord(c) + 0xFEE0) for c in "1700000000"),
    ],
)
def test_verify_reference_treats_non_integer_timestamps_as_out_of_tolerance(
    timestamp: str,
) -> None:
    with pytest.raises(SignatureError, match=r"^timestamp_out_of_tolerance$"):
        verify_reference_signature(REF_HEADER, timestamp, REF_BODY, REF_SECRET, now=REF_TS)


# --- Standard Webhooks: producing -----------------------------------------------------


def test_standard_headers_reproduce_the_svix_vector() -> None:
    headers = standard_headers(SVIX_ID, SVIX_TS, SVIX_BODY, whsec=SVIX_SECRET, whsk=None)
    assert headers == {
        "webhook-id": SVIX_ID,
        "webhook-timestamp": str(SVIX_TS),
        "webhook-signature": SVIX_SIGNATURE,
    }
    verify_standard(headers, SVIX_BODY, whsec=SVIX_SECRET, now=SVIX_TS)


def test_the_official_library_signs_the_svix_vector_the_same_way() -> None:
    stamp = datetime.fromtimestamp(SVIX_TS, tz=UTC)
    assert Webhook(SVIX_SECRET).sign(SVIX_ID, stamp, SVIX_BODY.decode()) == SVIX_SIGNATURE


@pytest.mark.parametrize("secret", [SVIX_SECRET, "fresh"])
def test_official_library_verifies_our_headers_and_rejects_tampering(secret: str) -> None:
    whsec = new_hmac_secret() if secret == "fresh" else secret
    whsk, _ = new_signing_key()
    now = int(time.time())  # the library checks against the real clock
    headers = standard_headers("msg_official", now, BODY, whsec=whsec, whsk=whsk)
    assert Webhook(whsec).verify(BODY, headers, json_parse=False) is None
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec).verify(BODY.replace(b"msg_1", b"msg_2"), headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_hmac_secret()).verify(BODY, headers, json_parse=False)


def test_v1a_verifies_with_pynacl_directly_and_fails_after_tampering() -> None:
    whsk, whpk = new_signing_key()
    headers = standard_headers("msg_ed", TS, BODY, whsec=None, whsk=whsk)
    assert headers["webhook-signature"].startswith("v1a,")
    assert " " not in headers["webhook-signature"]
    signature = _signatures(headers)["v1a"]
    key = nacl.signing.VerifyKey(base64.b64decode(whpk[5:]))
    content = f"msg_ed.{TS}.".encode() + BODY
    key.verify(content, signature)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        key.verify(content + b" ", signature)


def test_both_schemes_are_listed_v1_first_space_separated() -> None:
    whsk, _ = new_signing_key()
    headers = standard_headers("msg_both", TS, BODY, whsec=new_hmac_secret(), whsk=whsk)
    entries = headers["webhook-signature"].split(" ")
    assert [e.split(",")[0] for e in entries] == ["v1", "v1a"]
    assert headers["webhook-timestamp"] == str(TS)


@pytest.mark.parametrize("msg_id", ["msg.1", ".", "", "msg 1", "msg\r\nx-evil: 1", "msgé"])
def test_standard_headers_reject_unsafe_message_ids(msg_id: str) -> None:
    with pytest.raises(ValueError):
        standard_headers(msg_id, TS, BODY, whsec=new_hmac_secret(), whsk=None)


def test_standard_headers_need_a_key() -> None:
    with pytest.raises(ValueError):
        standard_headers("msg_1", TS, BODY, whsec=None, whsk=None)


# --- keys -----------------------------------------------------------------------------


def test_new_hmac_secret_is_the_contracts_format_and_standard_base64_too() -> None:
    secrets_ = {new_hmac_secret() for _ in range(200)}
    assert len(secrets_) == 200
    for whsec in secrets_:
        # Contract: prefix + base64url(32 random bytes, no padding), 43 characters.
        assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", whsec)
        raw = base64.urlsafe_b64decode(whsec[6:] + "=")
        assert len(raw) == 32
        # Standard base64 (what Standard Webhooks libraries decode) reads the same key.
        assert base64.b64decode(whsec[6:] + "=", validate=True) == raw
        assert Webhook(whsec)._whsecret == raw


def test_new_signing_key_is_a_seed_and_its_public_key() -> None:
    whsk, whpk = new_signing_key()
    assert whsk.startswith("whsk_") and whpk.startswith("whpk_")
    seed = base64.b64decode(whsk[5:], validate=True)
    assert len(seed) == 32
    assert base64.b64decode(whpk[5:]) == bytes(nacl.signing.SigningKey(seed).verify_key)
    assert public_key_of(whsk) == whpk
    assert new_signing_key()[0] != whsk


def test_a_64_byte_seed_plus_public_key_whsk_is_read_too() -> None:
    whsk, whpk = new_signing_key()
    long_form = (
        "whsk_" + base64.b64encode(base64.b64decode(whsk[5:]) + base64.b64decode(whpk[5:])).decode()
    )
    assert public_key_of(long_form) == whpk
    other_pk = base64.b64decode(new_signing_key()[1][5:])
    mismatched = "whsk_" + base64.b64encode(base64.b64decode(whsk[5:]) + other_pk).decode()
    with pytest.raises(ValueError):
        public_key_of(mismatched)


def test_unpadded_whsec_is_accepted_like_the_official_library() -> None:
    whsec = new_hmac_secret()
    unpadded = whsec.rstrip("=")
    headers = standard_headers("msg_pad", TS, BODY, whsec=unpadded, whsk=None)
    verify_standard(headers, BODY, whsec=whsec, now=TS)


@pytest.mark.parametrize(
    "bad",
    ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_test", "whsec_!!!!not-base64!!!!", "whpk_x"],
)
def test_malformed_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        standard_headers("msg_1", TS, BODY, whsec=bad, whsk=None)
    assert bad not in str(caught.value) and bad not in repr(caught.value)
    assert bad.split("_", 1)[-1] not in str(caught.value)


# --- Standard Webhooks: verifying -----------------------------------------------------


@pytest.mark.parametrize("sign_with", ["v1", "v1a", "both"])
def test_verify_standard_accepts_v1_only_v1a_only_and_both(sign_with: str) -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    headers = standard_headers(
        "msg_ok",
        TS,
        BODY,
        whsec=whsec if sign_with != "v1a" else None,
        whsk=whsk if sign_with != "v1" else None,
    )
    if sign_with != "v1a":
        verify_standard(headers, BODY, whsec=whsec, now=TS)
    if sign_with != "v1":
        verify_standard(headers, BODY, whpk=whpk, now=TS)
    verify_standard(headers, BODY, whsec=whsec, whpk=whpk, now=TS)


def test_verify_standard_reads_header_names_in_any_case() -> None:
    whsec = new_hmac_secret()
    headers = standard_headers("msg_case", TS, BODY, whsec=whsec, whsk=None)
    verify_standard({k.title(): v for k, v in headers.items()}, BODY, whsec=whsec, now=TS)


def test_verify_standard_rejects_a_wrong_key() -> None:
    whsk, _ = new_signing_key()
    headers = standard_headers("msg_k", TS, BODY, whsec=new_hmac_secret(), whsk=whsk)
    with pytest.raises(SignatureError, match=r"^invalid_signature$"):
        verify_standard(headers, BODY, whsec=new_hmac_secret(), now=TS)
    with pytest.raises(SignatureError, match=r"^invalid_signature$"):
        verify_standard(headers, BODY, whpk=new_signing_key()[1], now=TS)


def test_verify_standard_does_not_accept_a_v1_signature_as_v1a_or_back() -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    headers = standard_headers("msg_x", TS, BODY, whsec=whsec, whsk=whsk)
    sigs = headers["webhook-signature"].split(" ")
    swapped = dict(headers)
    swapped["webhook-signature"] = f"v1a,{sigs[0][3:]} v1,{sigs[1][4:]}"
    with pytest.raises(SignatureError):
        verify_standard(swapped, BODY, whsec=whsec, whpk=whpk, now=TS)


@pytest.mark.parametrize("body", [BODY + b"\n", BODY.replace(b"msg_1", b"msg_2"), b"", BODY[:-1]])
def test_verify_standard_rejects_a_tampered_body(body: bytes) -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    headers = standard_headers("msg_t", TS, BODY, whsec=whsec, whsk=whsk)
    with pytest.raises(SignatureError, match=r"^invalid_signature$"):
        verify_standard(headers, body, whsec=whsec, whpk=whpk, now=TS)


def test_verify_standard_rejects_tampered_id_or_timestamp_headers() -> None:
    whsec = new_hmac_secret()
    headers = standard_headers("msg_h", TS, BODY, whsec=whsec, whsk=None)
    for name, value in [("webhook-id", "msg_H"), ("webhook-timestamp", str(TS + 1))]:
        with pytest.raises(SignatureError, match=r"^invalid_signature$"):
            verify_standard(headers | {name: value}, BODY, whsec=whsec, now=TS)


@pytest.mark.parametrize("now", [TS + 301, TS - 301])
def test_verify_standard_rejects_timestamps_301_seconds_off(now: int) -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    headers = standard_headers("msg_old", TS, BODY, whsec=whsec, whsk=whsk)
    with pytest.raises(SignatureError, match=r"^timestamp_out_of_tolerance$"):
        verify_standard(headers, BODY, whsec=whsec, whpk=whpk, now=now)


@pytest.mark.parametrize("now", [TS + 300, TS - 300])
def test_verify_standard_accepts_the_tolerance_edge(now: int) -> None:
    whsec = new_hmac_secret()
    headers = standard_headers("msg_edge", TS, BODY, whsec=whsec, whsk=None)
    verify_standard(headers, BODY, whsec=whsec, now=now)


def test_verify_standard_defaults_to_the_real_clock() -> None:
    whsec = new_hmac_secret()
    fresh = standard_headers("msg_now", int(time.time()), BODY, whsec=whsec, whsk=None)
    verify_standard(fresh, BODY, whsec=whsec)
    stale = standard_headers("msg_now", int(time.time()) - 3600, BODY, whsec=whsec, whsk=None)
    with pytest.raises(SignatureError, match=r"^timestamp_out_of_tolerance$"):
        verify_standard(stale, BODY, whsec=whsec)


def test_rotation_overlap_two_v1a_signatures_verify_with_either_key() -> None:
    old_sk, old_pk = new_signing_key()
    new_sk, new_pk = new_signing_key()
    old = standard_headers("msg_rot", TS, BODY, whsec=None, whsk=old_sk)
    new = standard_headers("msg_rot", TS, BODY, whsec=None, whsk=new_sk)
    headers = dict(old)
    headers["webhook-signature"] = f"{old['webhook-signature']} {new['webhook-signature']}"
    verify_standard(headers, BODY, whpk=old_pk, now=TS)
    verify_standard(headers, BODY, whpk=new_pk, now=TS)
    with pytest.raises(SignatureError, match=r"^invalid_signature$"):
        verify_standard(headers, BODY, whpk=new_signing_key()[1], now=TS)


def test_unknown_versions_and_malformed_entries_are_skipped() -> None:
    whsec = new_hmac_secret()
    good = standard_headers("msg_skip", TS, BODY, whsec=whsec, whsk=None)
    noisy = dict(good)
    noisy["webhook-signature"] = f"v2,AAAA v1,%%% v1a,QUJD junk {good['webhook-signature']}"
    verify_standard(noisy, BODY, whsec=whsec, now=TS)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_do_not_verify(missing: str) -> None:
    whsec = new_hmac_secret()
    headers = standard_headers("msg_m", TS, BODY, whsec=whsec, whsk=None)
    del headers[missing]
    with pytest.raises(SignatureError):
        verify_standard(headers, BODY, whsec=whsec, now=TS)


def test_verify_standard_needs_a_key() -> None:
    headers = standard_headers("msg_1", TS, BODY, whsec=new_hmac_secret(), whsk=None)
    with pytest.raises(ValueError):
        verify_standard(headers, BODY, now=TS)


def test_raw_non_utf8_bodies_are_signed_byte_for_byte() -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    body = b"\xff\x00\xfe"
    headers = standard_headers("msg_bin", TS, body, whsec=whsec, whsk=whsk)
    verify_standard(headers, body, whsec=whsec, whpk=whpk, now=TS)


# --- secrets stay out of errors -------------------------------------------------------


def test_no_secret_appears_in_a_signature_error() -> None:
    whsec = new_hmac_secret()
    whsk, whpk = new_signing_key()
    headers = standard_headers("msg_s", TS, BODY, whsec=whsec, whsk=whsk)
    secret_texts = [whsec, whsec[6:], whsk, whsk[5:], whpk, whpk[5:], REF_SECRET, "test"]
    errors: list[SignatureError] = []
    for call in [
        lambda: verify_standard(headers, b"x", whsec=whsec, whpk=whpk, now=TS),
        lambda: verify_standard(headers, BODY, whsec=whsec, whpk=whpk, now=TS + 999),
        lambda: verify_reference_signature(REF_HEADER, str(REF_TS), b"x", REF_SECRET, now=REF_TS),
        lambda: verify_reference_signature(REF_HEADER, "bad", REF_BODY, REF_SECRET, now=REF_TS),
    ]:
        with pytest.raises(SignatureError) as caught:
            call()
        errors.append(caught.value)
    for error in errors:
        shown = str(error) + repr(error) + repr(error.args)
        assert str(error) in {"invalid_signature", "timestamp_out_of_tolerance"}
        for secret in secret_texts:
            assert secret not in shown
