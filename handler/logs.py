"""Logging configuration for the gateway and granian: plain text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import time
from typing import Any


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"time", "level", "logger", "message"[, "exc"]}`` on one line (UTC RFC 3339)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def dict_config(level: str, json_logs: bool) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping for the root, ``handler`` and granian loggers.

    ``level`` is a logging level name (``debug``, ``info``, ``warning``, ``error``).
    """
    formatter: dict[str, Any] = (
        {"()": "handler.logs.JsonFormatter"}
        if json_logs
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"level": lvl, "handlers": ["console"]},
        "loggers": {
            "_granian": {"level": lvl, "handlers": ["console"], "propagate": False},
            "granian.access": {"level": lvl, "handlers": ["console"], "propagate": False},
        },
    }
