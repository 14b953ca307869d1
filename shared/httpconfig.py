"""The HTTP transport's configuration: `--transport/--host/--port/--path` and the DESKMCP_HTTP_* settings.

Kept apart from `deskmcp.shared.http` (the SDK's web stack) so that `deskmcp --help` and argument parsing
stay instant. Every server takes these; the settings are shared by all servers (`DESKMCP_HTTP_<NAME>`).
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from deskmcp.shared.settings import Secret, Setting, parse_size, whole_number

SETTINGS_PREFIX: Final = "http"  # the settings below are DESKMCP_HTTP_<NAME>, shared by every server
MIN_TOKEN_LENGTH: Final = 16
LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")


def _token(text: str) -> str:
    # ASCII only: a client can send nothing else in a header (and what it sent would be read as Latin-1), so a
    # token with any other character would start the server and then refuse every client.
    if len(text) < MIN_TOKEN_LENGTH or text != text.strip() or not (text.isascii() and text.isprintable()):
        msg = f"expected at least {MIN_TOKEN_LENGTH} printable ASCII characters without surrounding spaces"
        raise ValueError(msg)
    return text


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if any(name == "*" or " " in name for name in names):
        msg = f"expected comma-separated names such as mcp.example.com or https://app.example.com, got {text!r}"
        raise ValueError(msg)
    return names


SETTINGS: Final = (
    Setting(
        "TOKEN",
        f"bearer token every HTTP client must send (Authorization: Bearer <token>), at least {MIN_TOKEN_LENGTH} "
        "printable ASCII characters; required unless the server listens on loopback only",
        parser=_token,
        secret=True,
        example="a-long-random-string",
    ),
    Setting(
        "ALLOWED_HOSTS",
        "Host header values accepted besides the loopback names and the address listened on, comma-separated "
        "(the public name behind a reverse proxy); `name:*` allows any port",
        parser=_names,
        default=(),
        example="mcp.example.com",
    ),
    Setting(
        "ALLOWED_ORIGINS",
        "browser Origin values accepted besides loopback pages, comma-separated; requests without Origin pass",
        parser=_names,
        default=(),
        example="https://app.example.com",
    ),
    Setting(
        "MAX_BODY",
        "largest HTTP request body (bytes, or with KiB/MiB/GiB); larger is refused with 413",
        parser=parse_size,
        default=16 * 1024 * 1024,
        example="16MiB",
    ),
    Setting(
        "MAX_SESSIONS",
        "most client sessions open at once; past it a new session is refused with 503",
        parser=whole_number(1, 100_000),
        default=100,
        example="100",
    ),
    Setting(
        "SESSION_IDLE_TIMEOUT",
        "seconds a session may stay without any request or open stream before it is closed (then 404)",
        parser=whole_number(1, 7 * 24 * 3600),
        default=30 * 60,
        example="1800",
    ),
    Setting(
        "RESUME_BUFFER",
        "how much of its latest stream events each session keeps, so a client can resume a broken stream "
        "(Last-Event-ID); bytes, or with KiB/MiB",
        parser=parse_size,
        default=4 * 1024 * 1024,
        example="4MiB",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--transport`, `--host`, `--port`, `--path`: every server takes them."""
    group = parser.add_argument_group("transport")
    group.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (what a desktop host launches; default) or http: MCP over Streamable HTTP for many clients "
        "(settings DESKMCP_HTTP_*, see deskmcp --help)",
    )
    group.add_argument("--host", default="127.0.0.1", help="http: address to listen on (default 127.0.0.1)")
    group.add_argument("--port", type=int, default=8000, help="http: port (default 8000; 0 picks a free one)")
    group.add_argument("--path", default="/mcp", help="http: the endpoint's path (default /mcp)")


def is_loopback(host: str) -> bool:
    """Whether listening on `host` reaches this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Everything `serve_http` needs: where to listen and the checks and limits of every request."""

    host: str
    port: int
    path: str
    token: Secret | None
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    max_sessions: int
    idle_timeout: float
    resume_bytes: int
    grace_seconds: float

    @classmethod
    def from_options(cls, args: argparse.Namespace, settings: Mapping[str, Any], grace_seconds: float) -> HttpConfig:
        """The configuration from the command line and DESKMCP_HTTP_*; `ValueError` says what to change."""
        if not args.path.startswith("/"):
            msg = f"--path must start with '/', got {args.path!r}"
            raise ValueError(msg)
        if not 0 <= args.port <= 65535:
            msg = f"--port must be from 0 to 65535, got {args.port}"
            raise ValueError(msg)
        token = settings["TOKEN"]
        if token is None and not is_loopback(args.host):
            msg = (
                f"--host {args.host} listens beyond this machine, so every client must authenticate: set "
                f"DESKMCP_HTTP_TOKEN (or DESKMCP_HTTP_TOKEN_FILE) to a secret of at least {MIN_TOKEN_LENGTH} "
                "characters, for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
            raise ValueError(msg)
        own = [] if args.host in ("0.0.0.0", "::") else [_url_host(args.host)]
        hosts = [*LOOPBACK_NAMES, *own, *settings["ALLOWED_HOSTS"]]
        origins = [f"{scheme}://{name}" for scheme in ("http", "https") for name in LOOPBACK_NAMES]
        return cls(
            host=args.host,
            port=args.port,
            path=args.path,
            token=token,
            allowed_hosts=tuple(dict.fromkeys(v for name in hosts for v in (name, f"{name}:*"))),
            allowed_origins=tuple(
                dict.fromkeys(v for name in [*origins, *settings["ALLOWED_ORIGINS"]] for v in (name, f"{name}:*"))
            ),
            max_body_bytes=settings["MAX_BODY"],
            max_sessions=settings["MAX_SESSIONS"],
            idle_timeout=float(settings["SESSION_IDLE_TIMEOUT"]),
            resume_bytes=settings["RESUME_BUFFER"],
            grace_seconds=grace_seconds,
        )

    def url(self, port: int) -> str:
        return f"http://{_url_host(self.host)}:{port}{self.path}"
