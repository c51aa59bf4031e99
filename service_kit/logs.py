"""structlog set-up shared by both services: JSON when stdout is not a terminal."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import EventDict, WrappedLogger


def configure_logging(fmt: str = "auto", level: str = "info", service: str = "") -> None:
    json_out = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: structlog.types.Processor
    if json_out:
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: rich's pretty ones print local variables, which may hold
        # personal text.
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)

    def add_service(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        if service:
            event.setdefault("service", service)
        return event

    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_out:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),  # the current sys.stdout at each call
        cache_logger_on_first_use=False,
    )
