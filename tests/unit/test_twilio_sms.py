"""Twilio SMS adapter: each captured webhook parses to exactly what the service should see,
signatures are checked over the public URL, and replies render as numbered text."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.request_validator import RequestValidator

from bot.core.messages import Attachment, Channel, Choice, InboundMessage, OutboundMessage
from bot.errors import ConfigError, DeliveryFailure, UnsupportedEvent
from channels.twilio_sms import (
    ERRORS,
    DeliveryReport,
    TwilioSms,
    as_provider_error,
    mask_address,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
UNSUPPORTED = "unsupported"
ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"
PUBLIC = "https://bot.example.org"
SMS_PATH = "/webhooks/twilio/sms"
FAMILY = "+17735550123"
# The query string of every status callback fixture's URL (see TwilioSms.status_callback_url).
STATUS_QUERY = "ref=42"


def sms(number: int, text: str, **fields: object) -> InboundMessage:
    values: dict[str, object] = {"provider_id": f"SM{number:02d}" + "b" * 30, **fields}
    return InboundMessage(Channel.SMS, FAMILY, text, **values)  # type: ignore[arg-type]


def report(number: int, status: str, error_code: str | None = None) -> DeliveryReport:
    return DeliveryReport(f"SM{number:02d}" + "a" * 30, status, error_code, "42")


def whatsapp(number: int, text: str, **fields: object) -> InboundMessage:
    values: dict[str, object] = {"provider_id": f"SM{number:02d}" + "b" * 30, **fields}
    return InboundMessage(Channel.WHATSAPP, FAMILY, text, **values)  # type: ignore[arg-type]


def media(number: int, content_type: str, media: str) -> Attachment:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM{number}{'b' * 30}"
    return Attachment(content_type, f"{url}/Media/ME{media * 32}")


EXPECTED: dict[str, InboundMessage | DeliveryReport | str] = {
    "sms__plain": sms(1, "Yes, 2"),
    "sms__spanish_accents": sms(2, "Sí, 2"),
    "sms__mms_photo": sms(
        3,
        "",
        provider_id="MM03" + "b" * 30,
        media_count=1,
        attachments=(
            Attachment(
                "image/jpeg",
                f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM03{'b' * 30}"
                f"/Media/ME{'c' * 32}",
            ),
        ),
    ),
    "sms__empty_body": sms(4, ""),
    "sms__legacy_sid_only": sms(5, "3"),
    "sms__messaging_service": sms(6, "Más consejeros, por favor"),
    # Twilio already opted them out; the engine hears the STOP like any other.
    "sms__stop_advanced_optout": sms(7, "STOP"),
    "sms__missing_from": UNSUPPORTED,
    "sms__emoji_5000": sms(9, "😀" * 1600),
    "sms__control_chars": sms(10, "Sí, 2\nGracias\tmaestra[0m 👨\u200d👩\u200d👧\nFin"),
    "sms__alphanumeric_from": InboundMessage(
        Channel.SMS, "VERIZON", "Your code is 1234", provider_id="SM11" + "b" * 30
    ),
    "status__delivered": report(1, "delivered"),
    "status__undelivered_30003": report(2, "undelivered", "30003"),
    "status__failed_21610": report(3, "failed", "21610"),
    "whatsapp__text": whatsapp(21, "Cảm ơn, 2"),
    # The tap carries the question it belongs to; its title reads as the text.
    "whatsapp__quick_reply": whatsapp(22, "Yes", button="q:family-priorities-2026:consent:yes"),
    "whatsapp__list_reply": whatsapp(
        23, "School safety", button="q:family-priorities-2026:priorities:safety"
    ),
    "whatsapp__voice_note": whatsapp(
        24,
        "",
        provider_id="MM24" + "b" * 30,
        media_count=1,
        attachments=(media(24, "audio/ogg", "c"),),
    ),
    "whatsapp__photo_with_caption": whatsapp(
        25,
        "El charco frente a la escuela",
        provider_id="MM25" + "b" * 30,
        media_count=1,
        attachments=(media(25, "image/jpeg", "d"),),
    ),
    "whatsapp__location": whatsapp(
        26, "📍 Lincoln Elementary, 123 Main St, Chicago (41.8781, -87.6298)"
    ),
    "status__whatsapp_read": DeliveryReport(
        "SM27" + "a" * 30, "read", None, "42", Channel.WHATSAPP
    ),
    "status__whatsapp_failed_63016": DeliveryReport(
        "SM28" + "a" * 30, "failed", "63016", "42", Channel.WHATSAPP
    ),
}


def channel(**overrides: str | None) -> TwilioSms:
    values: dict[str, str | None] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "from_number": "+13125550100",
        "messaging_service_sid": None,
        "public_url": PUBLIC,
        **overrides,
    }
    return TwilioSms(**values)  # type: ignore[arg-type]


def pairs(name: str) -> list[tuple[str, str]]:
    """A fixture's form pairs, parsed as the route does (the file ends in a newline)."""
    raw = (FIXTURES / f"{name}.txt").read_text("utf-8").strip()
    return parse_qsl(raw, keep_blank_values=True)


def sign(url: str, form: list[tuple[str, str]], token: str = TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(url, dict(form))
    return signature


# -- parsing -------------------------------------------------------------------


PARSERS: dict[str, Callable[[TwilioSms, list[tuple[str, str]]], object]] = {
    "sms": lambda sms, form: sms.parse_inbound(form),
    "whatsapp": lambda sms, form: sms.parse_inbound(form),
    "status": lambda sms, form: sms.parse_status(form, STATUS_QUERY),
}


def test_every_fixture_has_an_expected_result() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_what_the_service_should_see(name: str) -> None:
    parse = PARSERS[name.split("__")[0]]
    expected = EXPECTED[name]
    if expected == UNSUPPORTED:
        with pytest.raises(UnsupportedEvent):
            parse(channel(), pairs(name))
    else:
        assert parse(channel(), pairs(name)) == expected


def test_a_mapping_parses_like_pairs() -> None:
    form = pairs("sms__spanish_accents")
    assert channel().parse_inbound(dict(form)) == channel().parse_inbound(form)


@pytest.mark.parametrize(
    ("sender", "address"),
    [
        ("+1 773 555 0123", FAMILY),
        (" +17735550123 ", FAMILY),
        ("+447700900123", "+447700900123"),
        ("12345", "12345"),
        ("+1-800-FLOWERS", "+1-800-FLOWERS"),
        ("whatsapp:+17735550123", "+17735550123"),
        ("+12", "+12"),
    ],
    ids=["spaced", "padded", "uk", "short-code", "vanity", "whatsapp", "too-short"],
)
def test_a_sender_is_e164_when_it_is_a_phone_number(sender: str, address: str) -> None:
    form = [(k, sender if k == "From" else v) for k, v in pairs("sms__plain")]
    assert channel().parse_inbound(form).address == address


@pytest.mark.parametrize(
    ("value", "count"),
    [("2", 2), ("", 0), ("two", 0), ("-1", 0)],
    ids=["two", "blank", "word", "negative"],
)
def test_a_bad_media_count_reads_as_none(value: str, count: int) -> None:
    form = [(k, value if k == "NumMedia" else v) for k, v in pairs("sms__plain")]
    assert channel().parse_inbound(form).media_count == count


def test_missing_fields_are_named() -> None:
    form = [(k, v) for k, v in pairs("sms__missing_from") if not k.endswith("Sid")]
    with pytest.raises(UnsupportedEvent, match="without From and MessageSid"):
        channel().parse_inbound(form)
    with pytest.raises(UnsupportedEvent, match="without MessageStatus"):
        channel().parse_status([("MessageSid", "SM" + "a" * 32)], "")


def test_a_status_callback_without_a_reference_has_none() -> None:
    assert channel().parse_status(pairs("status__delivered"), "").reference is None


# -- signatures ----------------------------------------------------------------


def test_a_request_signed_over_the_public_url_is_genuine() -> None:
    form = pairs("sms__plain")
    assert channel().is_genuine(SMS_PATH, "", form, sign(PUBLIC + SMS_PATH, form))


def test_a_request_signed_over_the_public_url_with_its_port_is_genuine_too() -> None:
    # Twilio signs with :443 when the webhook URL was set with it; the validator's
    # second try (after the one HMAC over the URL as we have it) accepts that.
    form = pairs("sms__plain")
    with_port = PUBLIC.replace("https://bot.example.org", "https://bot.example.org:443")
    assert with_port != PUBLIC
    assert channel().is_genuine(SMS_PATH, "", form, sign(with_port + SMS_PATH, form))


def test_a_signature_in_letters_no_hmac_can_have_is_refused_not_an_error() -> None:
    assert not channel().is_genuine(SMS_PATH, "", pairs("sms__plain"), "sïgnatüre=")


def test_a_forged_signature_is_not() -> None:
    form = pairs("sms__plain")
    forged = sign(PUBLIC + SMS_PATH, form, token="someone-elses-token")
    assert not channel().is_genuine(SMS_PATH, "", form, forged)


@pytest.mark.parametrize("signature", [None, ""], ids=["missing", "empty"])
def test_an_unsigned_request_is_not(signature: str | None) -> None:
    assert not channel().is_genuine(SMS_PATH, "", pairs("sms__plain"), signature)


def test_a_changed_body_is_not() -> None:
    form = pairs("sms__plain")
    signature = sign(PUBLIC + SMS_PATH, form)
    changed = [(k, "STOP" if k == "Body" else v) for k, v in form]
    assert not channel().is_genuine(SMS_PATH, "", changed, signature)


def test_a_signature_over_http_is_not_one_over_https() -> None:
    form = pairs("sms__plain")
    signature = sign("http://bot.example.org" + SMS_PATH, form)
    assert not channel().is_genuine(SMS_PATH, "", form, signature)


def test_the_proxied_url_is_not_what_twilio_signs() -> None:
    form = pairs("sms__plain")
    signature = sign("http://10.0.0.5:8000" + SMS_PATH, form)
    assert not channel().is_genuine(SMS_PATH, "", form, signature)


def test_the_query_string_is_signed() -> None:
    form = pairs("status__delivered")
    path = "/webhooks/twilio/status"
    signature = sign(f"{PUBLIC}{path}?ref=42", form)
    assert channel().is_genuine(path, "ref=42", form, signature)
    assert not channel().is_genuine(path, "", form, signature)
    assert not channel().is_genuine(path, "ref=43", form, signature)


def test_blank_values_are_signed_and_accepted() -> None:
    form = [(k, "" if k == "FromZip" else v) for k, v in pairs("sms__plain")]
    signature = sign(PUBLIC + SMS_PATH, form)
    assert channel().is_genuine(SMS_PATH, "", form, signature)
    without_blank = [(k, v) for k, v in form if v]
    assert not channel().is_genuine(SMS_PATH, "", without_blank, signature)


def test_a_trailing_slash_on_the_public_url_changes_nothing() -> None:
    form = pairs("sms__plain")
    signature = sign(PUBLIC + SMS_PATH, form)
    assert channel(public_url=PUBLIC + "/").is_genuine(SMS_PATH, "", form, signature)


def test_repeated_names_are_signed_value_by_value() -> None:
    # CHANNELS.md 1.2, by hand: each value of a repeated name counts.
    form = [*pairs("sms__plain"), ("MediaUrl", "https://a.example/1"), ("MediaUrl", "b")]
    s = PUBLIC + SMS_PATH + "".join(k + v for k, v in sorted(set(form)))
    digest = hmac.new(TOKEN.encode(), s.encode(), hashlib.sha1).digest()
    assert channel().is_genuine(SMS_PATH, "", form, base64.b64encode(digest).decode())


# -- rendering and sending set-up ----------------------------------------------


CHOICES = (
    Choice("1", "Safety", "q:plan:priority:safety"),
    Choice("2", "Mental health", "q:plan:priority:mental-health"),
)


@pytest.mark.parametrize(
    ("choices", "body"),
    [
        ((), "What matters most?"),
        (CHOICES, "What matters most?\n1) Safety\n2) Mental health"),
        (
            tuple(Choice(str(n), str(n), f"q:plan:safe:{n}") for n in range(1, 6)),
            "What matters most?",
        ),
    ],
    ids=["text-only", "numbered-choices", "self-numbered-scale"],
)
def test_a_reply_renders_as_numbered_text(choices: tuple[Choice, ...], body: str) -> None:
    message = OutboundMessage(Channel.SMS, FAMILY, "What matters most?", choices, "7")
    assert channel().render(message) == body


@pytest.mark.parametrize(
    ("reference", "url"),
    [
        ("42", f"{PUBLIC}/webhooks/twilio/status?ref=42"),
        ("a b&c", f"{PUBLIC}/webhooks/twilio/status?ref=a+b%26c"),
        ("", f"{PUBLIC}/webhooks/twilio/status"),
    ],
    ids=["outbox-id", "escaped", "none"],
)
def test_the_status_callback_carries_the_reference(reference: str, url: str) -> None:
    assert channel().status_callback_url(reference) == url


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth_token": ""},
        {"from_number": None, "messaging_service_sid": None},
        {"public_url": "bot.example.org"},
    ],
    ids=["no-token", "no-sender", "public-url-without-scheme"],
)
def test_it_refuses_to_start_without_what_it_needs(overrides: dict[str, str | None]) -> None:
    with pytest.raises(ConfigError):
        channel(**overrides)


@pytest.mark.parametrize(
    ("address", "masked"),
    [(FAMILY, "***23"), ("VERIZON", "***ON"), ("12", "***"), ("", "***")],
    ids=["phone", "name", "short", "empty"],
)
def test_mask_address_keeps_the_last_two_characters(address: str, masked: str) -> None:
    assert mask_address(address) == masked


# -- send failures ------------------------------------------------------------


def rest_error(status: int, code: int, message: str = "") -> TwilioRestException:
    return TwilioRestException(
        status, "/Messages.json", f"Unable to create record: {message}", code
    )


PERMANENT: dict[int, DeliveryFailure] = {
    21610: DeliveryFailure.OPTED_OUT,
    21211: DeliveryFailure.INVALID_ADDRESS,
    21614: DeliveryFailure.INVALID_ADDRESS,
    30004: DeliveryFailure.BLOCKED,
    30005: DeliveryFailure.UNREACHABLE,
    30006: DeliveryFailure.UNREACHABLE,
    21408: DeliveryFailure.REJECTED,
    21612: DeliveryFailure.REJECTED,
    21606: DeliveryFailure.CONFIGURATION,
    21608: DeliveryFailure.CONFIGURATION,
    30032: DeliveryFailure.CONFIGURATION,
    30034: DeliveryFailure.CONFIGURATION,
    20003: DeliveryFailure.CONFIGURATION,
    21617: DeliveryFailure.REJECTED,
    30007: DeliveryFailure.REJECTED,
    63003: DeliveryFailure.INVALID_ADDRESS,
    63024: DeliveryFailure.INVALID_ADDRESS,
    63007: DeliveryFailure.CONFIGURATION,
    63027: DeliveryFailure.CONFIGURATION,
    63028: DeliveryFailure.CONFIGURATION,
    63051: DeliveryFailure.CONFIGURATION,
    63112: DeliveryFailure.CONFIGURATION,
    63016: DeliveryFailure.OUTSIDE_WINDOW,
    63005: DeliveryFailure.REJECTED,
    63013: DeliveryFailure.REJECTED,
    63021: DeliveryFailure.REJECTED,
    63030: DeliveryFailure.REJECTED,
    63032: DeliveryFailure.REJECTED,
    63049: DeliveryFailure.REJECTED,
}
TRANSIENT = (20429, 30003, 30008, 63018)


def test_the_error_table_is_the_one_tested() -> None:
    assert sorted(ERRORS) == sorted([*PERMANENT, *TRANSIENT])


@pytest.mark.parametrize(("code", "failure"), sorted(PERMANENT.items()), ids=str)
def test_permanent_codes_say_why(code: int, failure: DeliveryFailure) -> None:
    error = as_provider_error(rest_error(400, code))
    assert (error.transient, error.failure, error.code) == (False, failure, str(code))


@pytest.mark.parametrize("code", TRANSIENT, ids=str)
def test_transient_codes_are_retried(code: int) -> None:
    error = as_provider_error(rest_error(429 if code == 20429 else 400, code))
    assert (error.transient, error.failure) == (True, None)


@pytest.mark.parametrize(
    ("status", "transient", "failure"),
    [
        (500, True, None),
        (503, True, None),
        (429, True, None),
        (401, False, DeliveryFailure.CONFIGURATION),
        (404, False, DeliveryFailure.REJECTED),
        (400, False, DeliveryFailure.REJECTED),
    ],
    ids=["500", "503", "429", "401", "404", "400"],
)
def test_an_unknown_code_is_judged_by_its_http_status(
    status: int, transient: bool, failure: DeliveryFailure | None
) -> None:
    # An HTML body leaves the HTTP status as the code.
    error = as_provider_error(rest_error(status, status))
    assert (error.transient, error.failure, error.code) == (transient, failure, str(status))


def test_an_rfc9457_error_maps_like_a_legacy_one() -> None:
    error = TwilioServiceException(
        type_uri="https://www.twilio.com/docs/errors/21610",
        title="Unsubscribed recipient",
        status=400,
        code=21610,
        detail="Attempt to send to unsubscribed recipient",
    )
    mapped = as_provider_error(error)
    assert (mapped.transient, mapped.failure) == (False, DeliveryFailure.OPTED_OUT)
    assert "unsubscribed recipient" in str(mapped)


def test_phone_numbers_in_provider_messages_are_masked() -> None:
    error = rest_error(400, 21211, "The 'To' number +17735550123 is not a valid phone number.")
    assert "0123" not in str(as_provider_error(error))
    assert "***23" in str(as_provider_error(error))
