"""The HTTP transport's configuration, without a server: every bad value is refused with what to change."""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

import pytest
from deskmcp.shared.httpconfig import SETTINGS, HttpConfig, add_arguments, is_loopback
from deskmcp.shared.settings import SettingsError, load_settings
from hostpipes import deskmcp_command, host_env

TOKEN = "test-token-0123456789abcdef"


def config(*argv: str, **environ: str) -> HttpConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    settings = load_settings("http", SETTINGS, {f"DESKMCP_HTTP_{name}": value for name, value in environ.items()})
    return HttpConfig.from_options(parser.parse_args(["--transport", "http", *argv]), settings, grace_seconds=10)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("[::1]", True), ("::1", True)],
        *[("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("mcp.example.com", False)],
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_defaults_allow_loopback_names_on_any_port_and_need_no_token() -> None:
    defaults = config()
    assert defaults.url(8000) == "http://127.0.0.1:8000/mcp" and defaults.token is None
    assert {"127.0.0.1:*", "localhost:*", "[::1]:*"} <= set(defaults.allowed_hosts)
    assert {"http://localhost:*", "https://127.0.0.1:*"} <= set(defaults.allowed_origins)


def test_the_address_listened_on_and_the_allowed_names_are_accepted_hosts() -> None:
    own = config("--host", "fe80::1", TOKEN=TOKEN, ALLOWED_HOSTS="mcp.example.com, studio.local:8443")
    assert {"[fe80::1]", "[fe80::1]:*", "mcp.example.com:*", "studio.local:8443"} <= set(own.allowed_hosts)
    assert own.url(9000) == "http://[fe80::1]:9000/mcp"
    other_loopback = config("--host", "127.0.0.2")  # the URL the server announces is one it accepts
    assert {"127.0.0.2", "127.0.0.2:*"} <= set(other_loopback.allowed_hosts)
    assert config("--host", "::1").allowed_hosts == config().allowed_hosts  # [::1] is a loopback name already
    everywhere = config("--host", "0.0.0.0", TOKEN=TOKEN)
    assert not [host for host in everywhere.allowed_hosts if host.startswith("0.0.0.0")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--path", "mcp"], "--path must start with '/'"),
        (["--port", "70000"], "--port must be from 0 to 65535"),
        (["--host", "0.0.0.0"], "listens beyond this machine"),
    ],
)
def test_bad_command_line_values_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(*argv)


def test_check_config_refuses_what_the_server_would_refuse_to_start_with() -> None:
    command = deskmcp_command("calculator", "--transport", "http", "--host", "0.0.0.0", "--check-config")
    checked = subprocess.run(command, capture_output=True, text=True, env=host_env(), timeout=60)
    assert checked.returncode == 1 and checked.stdout == ""
    assert "listens beyond this machine" in checked.stderr and "DESKMCP_HTTP_TOKEN" in checked.stderr


@pytest.mark.parametrize(
    "environ",
    [
        {"ALLOWED_HOSTS": "*"},
        {"ALLOWED_ORIGINS": "https://a.example, *"},
        {"ALLOWED_HOSTS": "two words"},
        {"MAX_BODY": "lots"},
        {"MAX_SESSIONS": "0"},
        {"SESSION_IDLE_TIMEOUT": "1.5"},
        {"RESUME_BUFFER": "-1"},
    ],
)
def test_bad_settings_are_refused_naming_the_variable(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as refused:
        config(**environ)
    assert f"DESKMCP_HTTP_{next(iter(environ))}:" in str(refused.value)


@pytest.mark.parametrize(
    "token",
    [
        TOKEN[:15],  # too short
        f" {TOKEN}",  # surrounding space
        "pässwörd-0123456789abcdef",  # no client can send it: headers are ASCII (and read as Latin-1)
        "token-with\ta-tab-0123456789",
    ],
)
def test_a_token_no_client_could_send_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(SettingsError) as refused:
        config(TOKEN=token)
    assert "DESKMCP_HTTP_TOKEN: the value is not valid" in str(refused.value)
    assert token.strip() not in str(refused.value)


def test_a_good_token_is_kept_secret() -> None:
    configured: Any = config("--host", "0.0.0.0", TOKEN=TOKEN).token
    assert configured.reveal() == TOKEN and TOKEN not in repr(configured)
