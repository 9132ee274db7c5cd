"""Start-up checks of the privacy settings: a misspelt rule in PRIVACY_RULES would otherwise
switch that rule off without anyone noticing."""

from django.conf import settings
from django.core.checks import Error, register

from privacy.rules import RULES


@register()
def privacy_rules_known(app_configs, **kwargs) -> list[Error]:
    unknown = sorted(set(settings.PRIVACY_RULES) - set(RULES))
    if unknown:
        return [Error(f"PRIVACY_RULES names unknown rules: {', '.join(unknown)}", id="privacy.E001")]
    return []
