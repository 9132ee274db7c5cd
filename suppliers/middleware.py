"""Records the requests made under a conformance run's tokens (suppliers/recording.py)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from suppliers import recording


class ConformanceRecordingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(recording.FHIR_BASE):
            return self.get_response(request)
        raw = recording.bearer_value(request)
        if not recording.marked(raw):
            return self.get_response(request)
        found = recording.run_of_token(raw)
        if found is None:
            return self.get_response(request)
        run, token_role = found
        return recording.recorded_call(request, run, token_role, self.get_response)
