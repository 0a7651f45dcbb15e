"""The command line's grammar (wire contract §8.1): words, options anywhere, ACK flags."""

from __future__ import annotations

import pytest

from atp.cli._args import Invocation, parse
from atp.cli._output import CliError


def test_as_at_the_end_is_an_option_not_a_word() -> None:
    invocation = parse(["send", "beta", "hello there", "--as", "alpha"])
    assert invocation.words == ("send", "beta", "hello there")
    assert invocation.options == {"--as": "alpha"}


def test_as_right_after_the_subcommand() -> None:
    invocation = parse(["send", "--as", "alpha", "beta", "hi"])
    assert invocation.words == ("send", "beta", "hi")
    assert invocation.options == {"--as": "alpha"}


def test_as_before_the_command() -> None:
    invocation = parse(["--as", "beta", "inbox"])
    assert invocation.words == ("inbox",)
    assert invocation.options == {"--as": "beta"}


def test_as_with_an_equals_sign() -> None:
    invocation = parse(["inbox", "--as=beta"])
    assert invocation.words == ("inbox",)
    assert invocation.options == {"--as": "beta"}


def test_an_equals_sign_keeps_the_rest_of_the_value() -> None:
    assert parse(["init", "--server=http://h:4000/?a=b"]).options == {
        "--server": "http://h:4000/?a=b"
    }


def test_double_dash_ends_the_options() -> None:
    invocation = parse(["send", "beta", "--as", "alpha", "--", "--not-an-option", "--json"])
    assert invocation.words == ("send", "beta", "--not-an-option", "--json")
    assert invocation.options == {"--as": "alpha"}
    assert not invocation.json


def test_flags_are_collected() -> None:
    invocation = parse(["--json", "whoami"])
    assert invocation.words == ("whoami",)
    assert invocation.json
    assert not parse(["whoami"]).json


@pytest.mark.parametrize(
    "argv", [["--help"], ["-h"], ["help"], ["send", "--help"]], ids=lambda a: " ".join(a)
)
def test_help_is_wanted(argv: list[str]) -> None:
    assert parse(argv).wants_help


def test_a_help_word_after_the_command_is_not_help() -> None:
    assert not parse(["send", "beta", "help"]).wants_help


def test_ack_status_with_a_text() -> None:
    invocation = parse(["ack", "dlv_1", "--completed", "done"])
    assert invocation.words == ("ack", "dlv_1")
    assert invocation.ack == ("completed", "done")


def test_ack_status_without_a_text_before_another_option() -> None:
    invocation = parse(["ack", "dlv_1", "--accepted", "--as", "b"])
    assert invocation.words == ("ack", "dlv_1")
    assert invocation.ack == ("accepted", None)
    assert invocation.options == {"--as": "b"}


def test_ack_status_at_the_very_end_has_no_text() -> None:
    invocation = parse(["ack", "dlv_1", "--rejected"])
    assert invocation.words == ("ack", "dlv_1")
    assert invocation.ack == ("rejected", None)


def test_no_ack_status_means_none() -> None:
    assert parse(["ack", "dlv_1"]).ack is None


def test_two_ack_statuses_are_an_error() -> None:
    with pytest.raises(CliError, match="give one ACK status"):
        parse(["ack", "dlv_1", "--accepted", "--completed", "done"])


def test_an_unknown_option_is_an_error() -> None:
    with pytest.raises(CliError, match=r"unknown option --bogus\. Run `atp help`\."):
        parse(["inbox", "--bogus=1"])


def test_a_valued_option_without_a_value_is_an_error() -> None:
    with pytest.raises(CliError, match="--as needs a value"):
        parse(["inbox", "--as"])


def test_a_bare_word_that_names_an_ack_status_stays_a_positional() -> None:
    invocation = parse(["send", "beta", "completed"])
    assert invocation.words == ("send", "beta", "completed")
    assert invocation.ack is None


def _with(option: str, value: str) -> Invocation:
    return Invocation(("inbox",), {option: value})


def test_number_reads_a_value_in_range() -> None:
    assert _with("--wait", "2.5").number("--wait", 0, 60) == 2.5
    assert _with("--wait", "0").number("--wait", 0, 60) == 0
    assert _with("--wait", "60").number("--wait", 0, 60) == 60


def test_number_is_none_when_not_given() -> None:
    assert Invocation(("inbox",)).number("--wait", 0, 60) is None


@pytest.mark.parametrize("value", ["-1", "60.5", "abc", "nan", "inf", ""])
def test_number_out_of_range_or_not_a_number_is_an_error(value: str) -> None:
    with pytest.raises(CliError, match="--wait must be a number from 0 to 60"):
        _with("--wait", value).number("--wait", 0, 60)


def test_number_error_names_the_bounds() -> None:
    with pytest.raises(CliError, match="--lease must be a number from 1 to 3600"):
        _with("--lease", "0").number("--lease", 1, 3600)


def test_a_repeated_option_keeps_every_value_in_order() -> None:
    invocation = parse(
        ["replay", "start", "--status", "delivered", "--target=inbox", "--status=failed"]
    )
    assert invocation.words == ("replay", "start")
    assert invocation.every("--status") == ("delivered", "failed")
    assert invocation.options["--status"] == "failed"  # a single-valued read: the last
    assert invocation.every("--target") == ("inbox",)
    assert invocation.every("--since") == ()


def test_every_reads_an_invocation_built_without_values() -> None:
    assert _with("--status", "queued").every("--status") == ("queued",)


def test_the_replay_options_take_values() -> None:
    invocation = parse(
        ["replay", "start", "--sender", "alpha", "--session", "ses_1", "--rate", "2.5",
         "--name", "after the fix", "--since", "2026-05-27T00:00:00Z", "--until=2026-05-28"]
    )  # fmt: skip
    assert invocation.words == ("replay", "start")
    assert invocation.options == {
        "--sender": "alpha", "--session": "ses_1", "--rate": "2.5", "--name": "after the fix",
        "--since": "2026-05-27T00:00:00Z", "--until": "2026-05-28",
    }  # fmt: skip


def test_follow_is_a_flag_of_replay_show() -> None:
    invocation = parse(["replay", "show", "rpl_1", "--follow", "--json"])
    assert invocation.words == ("replay", "show", "rpl_1")
    assert invocation.flags == {"--follow", "--json"}
