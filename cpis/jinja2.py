"""The Jinja2 environment for our pages: NHS.UK frontend macros plus Django's helpers."""

import logging
from collections import OrderedDict
from threading import Lock

from django.conf import settings
from django.contrib import messages
from django.templatetags.static import static
from django.urls import get_script_prefix, resolve, reverse
from django.utils.functional import Promise
from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PackageLoader,
    Undefined,
)
from markupsafe import Markup

from core import formatting

logger = logging.getLogger(__name__)


def _url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def _url_each(name: str, kwarg: str):
    """`url(name, kwarg=id)` for every row of a list page: reversed once, each id put in after.

    Reversing costs about 30 µs, one link a row: a tenth of a list page's CPU once its forms
    were remembered (docs/performance.md). An `<int:...>` route writes an id as its digits, so
    only such a route takes the short way, and only for an id that is a non-negative int;
    anything else is reversed as usual.
    """
    probe = 918273645
    probed = _url(name, **{kwarg: probe})
    prefix, found, suffix = probed.partition(str(probe))
    route = resolve("/" + probed.removeprefix(get_script_prefix())).route
    if not found or f"<int:{kwarg}>" not in route:
        return lambda pk: _url(name, **{kwarg: pk})
    return lambda pk: f"{prefix}{pk}{suffix}" if type(pk) is int and pk >= 0 else _url(name, **{kwarg: pk})


# Where a per-request value goes in a remembered rendering (see `rendered_once`).
CSRF_SLOT = Markup("<!--cpis:csrf-input-->")
# Headers (one per user and organisation), and the design system's form fields, tags and
# pagination of the list pages: a few KB each, so a few MB a worker at most.
_RENDERED_MAX = 2048
_rendered: OrderedDict = OrderedDict()
_rendered_lock = Lock()


def _params_key(value):
    """`value` as a hashable key that tells apart everything a macro could render differently:
    text from markup, a missing value from an empty one, a list from a dict."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((str(k), _params_key(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_params_key(v) for v in value))
    if isinstance(value, Undefined):
        return ("u",)
    if isinstance(value, Markup):
        return ("m", str(value))
    if isinstance(value, Promise):
        # A lazy translation renders as its text in the active language, which the key holds.
        return ("lazy", str(value))
    if value is None or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    raise TypeError(f"rendered_once cannot key a {type(value).__name__}")


def rendered_once(macro, params: dict, *, csrf_input: str = "") -> Markup:
    """An NHS.UK macro's HTML for `params`, rendered once per process and remembered.

    The header and footer are the same on every page a user sees at one organisation, yet
    rendering them through the design system's macros cost about a seventh of a check's CPU;
    a list page's filter form and its rows' tags cost a third to a half of the page
    (docs/performance.md). The macros are pure functions of their parameters, so the key is
    the parameters themselves: nothing can be stale, and there is nothing to invalidate. The
    CSRF token, new on every response, is put in after, where the parameters hold CSRF_SLOT.
    Only the design system's macros belong here: one of ours could read more than its
    parameters (the request, the time).
    """
    # The template's name as well as the macro's: two templates may name a macro alike. A
    # template made from a string has no name to tell it from another.
    template = macro._func.__globals__.get("name")
    try:
        key = (template, macro.name, _params_key(params)) if template is not None else None
    except TypeError:
        key = None
    if key is None:
        # A value we cannot key exactly: render it as usual rather than risk a wrong header.
        unkeyed = str(macro(params)).replace(CSRF_SLOT, str(csrf_input))
        return Markup(unkeyed)  # noqa: S704 - as below
    with _rendered_lock:
        html = _rendered.get(key)
        if html is not None:
            _rendered.move_to_end(key)
    if html is None:
        html = str(macro(params))
        with _rendered_lock:
            _rendered[key] = html
            while len(_rendered) > _RENDERED_MAX:
                _rendered.popitem(last=False)
    if CSRF_SLOT in html:
        html = html.replace(CSRF_SLOT, str(csrf_input))
    return Markup(html)  # noqa: S704 - the macro's own escaped output, and Django's CSRF input


class _BytecodeCache(FileSystemBytecodeCache):
    """Jinja's, except that a directory it cannot read or write is no cache: the page renders."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()  # compiled from the source, as without a cache

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            logger.warning("Compiled templates cannot be kept in %s", self.directory)


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Each worker compiles every template it renders, about 0.7 s of CPU for a few pages, and
    gunicorn replaces workers every couple of thousand requests: the compiled code kept on disk
    (under the source's hash, so an edited template is compiled again) spares each new worker
    that (docs/performance.md). The files are loaded as code, so the directory must be this
    system user's alone: Jinja's default one is made so, and refused if it is not."""
    try:
        return _BytecodeCache(settings.JINJA_BYTECODE_CACHE_DIR)
    except (OSError, RuntimeError):
        logger.warning("Compiled templates are not kept: no private directory for them")
        return None


def environment(**options) -> Environment:
    # nhsuk-frontend-jinja needs ChainableUndefined; its templates come from the package.
    options["undefined"] = ChainableUndefined
    options["loader"] = ChoiceLoader(
        [
            options.get("loader") or FileSystemLoader(str(settings.BASE_DIR / "templates")),
            PackageLoader("nhsuk_frontend_jinja", package_path="templates"),
        ]
    )
    options.setdefault("autoescape", True)
    options["extensions"] = [*options.get("extensions", []), "jinja2.ext.do"]
    options["trim_blocks"] = True
    options["lstrip_blocks"] = True
    options.setdefault("bytecode_cache", _bytecode_cache())
    env = Environment(**options)  # noqa: S701 - autoescape is set above
    # Dates and NHS numbers are written one way on every page and e-mail (core/formatting.py).
    env.filters.update(formatting.FILTERS)
    env.globals.update(formatting.GLOBALS)
    env.globals.update(
        {
            "static": static,
            "url": _url,
            "url_each": _url_each,
            "get_messages": messages.get_messages,
            "rendered_once": rendered_once,
            "CSRF_SLOT": CSRF_SLOT,
        }
    )
    return env


def _navigation(request) -> list[dict]:
    # Imported here: the accounts app is not loaded when this module is first imported.
    from accounts.navigation import links_for

    if not getattr(request, "user", None) or not request.user.is_authenticated or not hasattr(request, "roles"):
        return []
    return links_for(request, header_only=True)


def context(request) -> dict:
    """Per-request values the NHS.UK page template reads at its top level."""
    # str() generates the nonce now: django-csp's lazy nonce reads as false until first used,
    # and the template only asks "is there a nonce?" before printing it.
    nonce = getattr(request, "csp_nonce", None)
    return {
        "navigation_items": _navigation(request),
        "cspNonce": str(nonce) if nonce is not None else None,
        "session_idle_timeout": settings.SESSION_IDLE_TIMEOUT,
        "session_warning_before": settings.SESSION_WARNING_BEFORE,
        "nhsuk_fonts_from_nhs": settings.NHSUK_FONTS_FROM_NHS,
        "feedback_url": settings.FEEDBACK_URL,
    }
