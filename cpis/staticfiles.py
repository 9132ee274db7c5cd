"""The static-files storage production uses: whitenoise's compressed, hashed-name manifest."""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

# nhsuk-frontend's compiled CSS points at its images as "/assets/images/…", the path its own
# build serves them from; we serve them under STATIC_URL + "nhsuk/assets/".
NHSUK_ASSETS_URL = "/assets/"
NHSUK_ASSETS_STATIC = "nhsuk/assets/"


class _Rebased:
    """A regex match whose URL is moved from nhsuk-frontend's asset path to ours."""

    def __init__(self, match):
        self._groups = match.groupdict()
        old = self._groups["url"]
        new = settings.STATIC_URL + NHSUK_ASSETS_STATIC + old.removeprefix(NHSUK_ASSETS_URL)
        self._groups["matched"] = self._groups["matched"].replace(old, new)
        self._groups["url"] = new

    def groupdict(self):
        return dict(self._groups)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    # cpis.js imports the NHS.UK components as an ES module: the import must name the hashed
    # file too, or the browser fetches the unhashed one, which is cached for a minute only.
    support_js_module_import_aggregation = True

    def url_converter(self, name, hashed_files, template=None):
        convert = super().url_converter(name, hashed_files, template)

        def converter(match):
            if match.groupdict()["url"].startswith(NHSUK_ASSETS_URL):
                return convert(_Rebased(match))
            return convert(match)

        return converter
