"""The NHS.UK fonts: from assets.nhs.uk when NHSUK_FONTS_FROM_NHS is on, otherwise the NHS.UK CSS
built with no @font-face (committed, and current) and a CSP that names no font host."""

import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
STYLES = ROOT / "static" / "cpis"
BUILDS = ["nhsuk-frontend-system-fonts", "nhsuk-frontend-nhs-fonts"]
BUILT = STYLES / "nhsuk-frontend-system-fonts.min.css"
SASS = ROOT / "node_modules" / ".bin" / "sass"


@pytest.mark.parametrize("name", BUILDS)
def test_each_committed_css_is_what_the_sass_builds(tmp_path, name):
    # sass is a development dependency (package.json); the image copies the committed file.
    assert SASS.exists(), "node_modules/.bin/sass missing: run `npm ci` (make install)"
    rebuilt = tmp_path / "rebuilt.css"
    subprocess.run(
        [str(SASS), "--no-source-map", "--style=compressed", "--quiet", f"--load-path={ROOT / 'node_modules'}",
         str(STYLES / f"{name}.scss"), str(rebuilt)],
        check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert rebuilt.read_bytes() == (STYLES / f"{name}.min.css").read_bytes(), "stale: run `make css` and commit"


@pytest.mark.parametrize("name", BUILDS)
def test_every_image_the_css_names_is_a_static_file_we_serve(name):
    """The package's own build points at /assets/images/, which nothing serves (icons 404ed)."""
    from django.contrib.staticfiles import finders

    css = (STYLES / f"{name}.min.css").read_text()
    local = [url for url in re.findall(r'url\("?([^")]+)"?\)', css) if not url.startswith(("https:", "data:"))]
    assert local, "the design system's icons are missing from the build"
    missing = [url for url in local if not finders.find(posixpath.normpath(posixpath.join("cpis", url)))]
    assert missing == []


def test_the_css_without_font_faces_points_at_no_font_host():
    css = BUILT.read_text()
    assert "@font-face" not in css and "assets.nhs.uk" not in css
    # Still the whole design system: the same components as the package's own build.
    assert ".nhsuk-header" in css and ".nhsuk-error-summary" in css
    assert "arial" in css.lower()


def _settings_with(**env) -> dict:
    code = (
        "import json; from cpis.settings import base as s; "
        "print(json.dumps({'fonts': s.NHSUK_FONTS_FROM_NHS, "
        "'font_src': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['font-src']}))"
    )
    keep = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "NHSUK_FONTS_FROM_NHS")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**keep, "SECRET_KEY": "x" * 50, **env},
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "fonts", "font_src"),
    [
        ({"DEBUG": "false"}, True, ["'self'", "https://assets.nhs.uk"]),  # production, as NHS services do
        ({"DEBUG": "true"}, False, ["'self'"]),  # the demo
        ({"DEBUG": "false", "NHSUK_FONTS_FROM_NHS": "false"}, False, ["'self'"]),  # an operator's choice
    ],
)
def test_the_font_host_is_on_in_production_and_off_in_the_demo(env, fonts, font_src):
    found = _settings_with(**env)
    assert found["fonts"] is fonts
    assert found["font_src"] == font_src


@pytest.mark.django_db
@pytest.mark.parametrize("on", [True, False])
def test_each_page_links_the_stylesheet_of_the_setting(client, settings, on):
    settings.NHSUK_FONTS_FROM_NHS = on
    page = client.get("/accounts/login/").content.decode()
    assert ("nhsuk-frontend-nhs-fonts.min.css" in page) is on
    assert ("nhsuk-frontend-system-fonts.min.css" in page) is not on
