"""`python -m scripter_service`: serve ScripterService at REEL_SCRIPTER_ADDR."""

from __future__ import annotations

import sys

from service_kit.logs import configure_logging
from service_kit.serving import serve_until_signal
from service_kit.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"scripter_service: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level, service="scripter")
    from scripter_service.server import create_server

    try:
        running, _port = create_server(settings)
    except OSError as exc:
        print(f"scripter_service: {exc}", file=sys.stderr)
        return 1
    return serve_until_signal(running, settings.grace_s, "scripter")


if __name__ == "__main__":
    sys.exit(main())
