"""Help, legal pages and the glossary: public, the same for everyone, no data of any kind."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import render

from accounts.requests import CpisRequest

# slug → (title, template). The footer links to each; nothing here reads the database.
PAGES = {
    "help": ("Help and contact", "guidance/help.jinja"),
    "glossary": ("Glossary", "guidance/glossary.jinja"),
    "accessibility": ("Accessibility statement", "guidance/accessibility.jinja"),
    "privacy": ("Privacy notice", "guidance/privacy.jinja"),
    "cookies": ("Cookies", "guidance/cookies.jinja"),
}


@login_not_required
def page(request: CpisRequest, slug: str):
    if slug not in PAGES:
        raise Http404
    title, template = PAGES[slug]
    return render(request, template, {"page_title": title})
