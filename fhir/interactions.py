"""How the API reads a FHIR request and writes its answer: format, paging, includes, strictness.

R4 rules followed here (https://hl7.org/fhir/R4/http.html, search.html):
- JSON only: `application/fhir+json` (or `application/json`, answered as such); XML, asked for
  by `Accept` or `_format`, gets 406 with an OperationOutcome (in JSON: the one format we have).
- `_count` is honoured up to 25 (R4: a server never returns more than asked, may return fewer);
  pages are reached by the `next` and `previous` links, which carry `_offset`.
- `Prefer: handling=strict` refuses any parameter the search does not know; without it
  (lenient, R4's default) such parameters are ignored and left out of the `self` link, which
  shows the search as it was run.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from fhir import representations as resources

FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
FHIR_VERSION = "4.0"
MAX_COUNT = 25
MAX_OFFSET = 10_000

# Parameters every search takes besides its own.
RESULT_PARAMETERS = frozenset({"_count", "_offset", "_format"})

# Every `_include` that names the AuditEvent's PractitionerRole: the national API's own forms
# (its guide's, and its CapabilityStatement's `searchInclude` taken literally), then R4's, as
# fhirpy's `.include("AuditEvent", "agent"[, "PractitionerRole"])` and fhirclient send them.
# The search answers the PractitionerRoles whether asked or not; these are the values it accepts.
PRACTITIONER_ROLE_INCLUDES = frozenset(
    {
        resources.INCLUDE_PRACTITIONER_ROLE,
        "PractitionerRole",
        "AuditEvent:entity-type",
        "AuditEvent:agent",
        "AuditEvent:agent:PractitionerRole",
        "AuditEvent:*",
        "*",
    }
)

# DSTU2 and STU3 stacks ask for FHIR JSON by its old name: the same JSON, answered by its R4 name.
LEGACY_FHIR_JSON = "application/json+fhir"
_JSON_FORMATS = {
    "json": FHIR_JSON,
    FHIR_JSON: FHIR_JSON,
    LEGACY_FHIR_JSON: FHIR_JSON,
    PLAIN_JSON: PLAIN_JSON,
    "text/json": PLAIN_JSON,
}
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,6}$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class FhirError(Exception):
    """A request answered with an OperationOutcome instead of what it asked for."""

    def __init__(self, status: int, code: str, issue_type: str, display: str, diagnostics: str):
        super().__init__(diagnostics)
        self.status, self.code, self.issue_type, self.display, self.diagnostics = (
            status,
            code,
            issue_type,
            display,
            diagnostics,
        )
        # The child the refused request named, for the audit of the refusal (never logged).
        self.nhs_number = ""
        # Headers the answer carries besides the usual (Retry-After, WWW-Authenticate).
        self.headers: dict[str, str] = {}


# Gunicorn (cpis/gunicorn.py) reads request lines up to 8190 bytes, the most it can; a query
# string past this, which no search of ours needs, is refused here, as FHIR. Gunicorn's own
# default stopped at 4094 with an HTML page; a line past 8190 still gets gunicorn's (docs/fhir.md).
MAX_QUERY_STRING = 4096


def refuse_long_query(request) -> None:
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING:
        raise FhirError(
            414,
            "INVALID_PARAMETER",
            "too-long",
            "Invalid parameter",
            f"The query string is over {MAX_QUERY_STRING} characters",
        )


def _not_acceptable(diagnostics: str) -> FhirError:
    return FhirError(406, "NOT_ACCEPTABLE", "not-supported", "Not acceptable", diagnostics)


def invalid_parameter(diagnostics: str) -> FhirError:
    return FhirError(400, "INVALID_PARAMETER", "invalid", "Invalid parameter", diagnostics)


def _media_ranges(header: str) -> list[tuple[str, dict[str, str], float]]:
    ranges = []
    for part in header.split(","):
        media, *raw_params = (piece.strip() for piece in part.split(";"))
        params = {}
        for raw in raw_params:
            name, _, value = raw.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if _TOKEN.match(media) and 0 < quality <= 1:
            ranges.append((media.lower(), params, quality))
    return ranges


def response_content_type(request) -> str:
    """The JSON type to answer with (`_format` first, then `Accept`), or a 406."""
    formats = request.GET.getlist("_format")
    if len(formats) > 1:
        raise invalid_parameter("_format may be given once")
    if formats:
        chosen = _JSON_FORMATS.get(formats[0].split(";")[0].strip().lower())
        if chosen is None:
            raise _not_acceptable("This server answers JSON only: _format=json or application/fhir+json")
        return chosen
    header = request.headers.get("Accept", "").strip()
    if not header:
        return FHIR_JSON
    best, best_quality = None, 0.0
    for media, params, quality in _media_ranges(header):
        version = params.get("fhirversion")
        if version is not None and not version.startswith(FHIR_VERSION):
            continue
        if media in (FHIR_JSON, LEGACY_FHIR_JSON, "application/*", "*/*"):
            candidate = FHIR_JSON
        elif media in (PLAIN_JSON, "text/json"):
            candidate = PLAIN_JSON
        else:
            continue
        # Equal preference goes to FHIR's own type.
        if quality > best_quality or (quality == best_quality and candidate == FHIR_JSON):
            best, best_quality = candidate, quality
    if best is None:
        raise _not_acceptable(f"This server answers {FHIR_JSON} (fhirVersion {FHIR_VERSION}) only")
    return best


def content_type_header(media_type: str) -> str:
    if media_type == FHIR_JSON:
        return f"{FHIR_JSON}; fhirVersion={FHIR_VERSION}"
    return media_type


def strict_handling(request) -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().lower().replace(" ", "") == "handling=strict" for part in prefer.split(","))


def _single_int(request, name: str, *, default: int, maximum: int) -> int:
    values = request.GET.getlist(name)
    if not values:
        return default
    if len(values) > 1 or not _WHOLE_NUMBER.match(values[0]):
        raise invalid_parameter(f"{name} must be given once, as a whole number from 0")
    return min(int(values[0]), maximum)


@dataclass
class Search:
    """A search as it will be run: the parameters it used, its page and what it includes."""

    path: str
    strict: bool
    count: int
    count_given: bool
    offset: int
    includes: list[str] = field(default_factory=list)
    # (name, value) as given, for the `self` link: the search's own parameters it used.
    used: list[tuple[str, str]] = field(default_factory=list)

    def links(self, base_url: str, *, total: int, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        """`self`, then `previous` and `next` where there are such pages; `extra` parameters go
        on the last two only."""

        def url(offset: int, *, with_count: bool, paging: bool = True) -> str:
            params = [*self.used, *(extra if paging else ()), *(("_include", value) for value in self.includes)]
            if with_count:
                params.append(("_count", str(self.count)))
            if offset:
                params.append(("_offset", str(offset)))
            return resources.link_url(base_url, self.path, params)

        links = [("self", url(self.offset, with_count=self.count_given, paging=False))]
        if self.count and self.offset > 0:
            links.append(("previous", url(max(self.offset - self.count, 0), with_count=True)))
        if self.count and self.offset + self.count < total:
            links.append(("next", url(self.offset + self.count, with_count=True)))
        return links

    def page(self, items: list) -> list:
        return items[self.offset : self.offset + self.count]


def search_read(
    request,
    path: str,
    *,
    params: frozenset[str],
    includes: frozenset[str] = frozenset(),
    private: frozenset[str] = frozenset(),
) -> Search:
    """Reads a search's paging, includes and strictness; `params` are the search's own
    parameters, `includes` the `_include` values it serves, `private` parameters only our own
    links carry (kept out of `used`)."""
    strict = strict_handling(request)
    known = params | private | RESULT_PARAMETERS | ({"_include"} if includes else set())
    unknown = sorted(name for name in request.GET if name not in known)
    if strict and unknown:
        raise invalid_parameter(f"Unknown or unsupported search parameter(s): {', '.join(unknown)}")
    asked = request.GET.getlist("_include") if includes else []
    unsupported = [value for value in asked if value not in includes]
    if strict and unsupported:
        raise invalid_parameter(f"Unsupported _include: {', '.join(unsupported)}")
    count_given = "_count" in request.GET
    search = Search(
        path=path,
        strict=strict,
        count=_single_int(request, "_count", default=MAX_COUNT, maximum=MAX_COUNT),
        count_given=count_given,
        offset=_single_int(request, "_offset", default=0, maximum=MAX_OFFSET),
        includes=[value for value in dict.fromkeys(asked) if value in includes],
    )
    search.used = [(name, value) for name in request.GET if name in params for value in request.GET.getlist(name)]
    return search


def refuse_unknown_parameters(request, *, allowed: frozenset[str] = frozenset()) -> None:
    """For reads: a strict caller hears about any parameter a read does not take."""
    unknown = sorted(name for name in request.GET if name not in allowed | {"_format"})
    if unknown and strict_handling(request):
        raise invalid_parameter(f"Unknown or unsupported parameter(s): {', '.join(unknown)}")
