"""The Jinja2 environment for our pages: NHS.UK frontend macros plus Django's helpers."""

from django.conf import settings
from django.contrib import messages
from django.templatetags.static import static
from django.urls import reverse
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from core import formatting


def _url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


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
    env = Environment(**options)  # noqa: S701 - autoescape is set above
    # Dates and NHS numbers are written one way on every page and e-mail (core/formatting.py).
    env.filters.update(formatting.FILTERS)
    env.globals.update(formatting.GLOBALS)
    env.globals.update({"static": static, "url": _url, "get_messages": messages.get_messages})
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
    }
