"""Gunicorn's logger with our redaction (cpis/logs.py) on every handler: its error log
reports a crashed request by its full URI, query string and all."""

from gunicorn import glogging

from cpis.logs import RedactFilter


class RedactingLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactFilter())
