"""Gunicorn's logger with our redaction (cpis/logs.py): its error log reports a crashed request
by its full URI, query string and all, and its access log names paths that may carry a token."""

from gunicorn import glogging

from cpis.logs import RedactFilter, redact


class RedactingLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactFilter())

    def atoms(self, resp, req, environ, request_time):
        # The access log's message is preformatted from these atoms; redact them at the source.
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
