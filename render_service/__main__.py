"""`python -m render_service`: serve ReelService and ReelAdminService at
REEL_RENDER_ADDR, with the job workers and background loops."""

from __future__ import annotations

import os
import sys

from reels_core.libraries import library_roots
from service_kit.logs import configure_logging
from service_kit.serving import serve_until_signal
from service_kit.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        library_roots(settings.libraries, settings.data_dir)  # a bad REEL_LIBRARIES stops start-up here
    except (SettingsError, ValueError) as exc:
        print(f"render_service: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level, service="render")
    # Imported once the settings are known good, so that a bad one is reported
    # before the pipeline and its libraries load.
    from render_service.server import create_server

    try:
        server, _port = create_server(settings)
    except OSError as exc:
        print(f"render_service: {exc}", file=sys.stderr)
        return 1
    return serve_until_signal(server.running, settings.grace_s, "render", on_started=server.app.start)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit without interpreter finalisation: the graceful stop has drained calls,
    # requeued the running job and committed everything, and a daemon thread still
    # inside native code (grpc, libheif) while the interpreter tears down can abort
    # the process ("terminate called without an active exception", seen on SIGTERM
    # under load, in 1 of about 5 runs of test_sigterm_exits_zero).
    os._exit(code)
