"""Whether an upload row and a PDS record are the same child (SPEC 2 "Identity verification").

The rules, in docs/plans.md "Identity verification" too:
- NHS number: exact. It is the key PDS was asked for; never fuzzy.
- Date of birth: exact; a partial date held by PDS never matches.
- Family name: equal after normalising both (below), against any name PDS returns for the
  child (usual, previous or alias), so a surname change the LA has not caught up with matches.
- Given name: the row's first given name against the same name's first given name, normalised;
  equal, or one side is a single initial equal to the other's first letter ("J" and "Jayne").
  The whole given names compared normalised also match ("Mary-Jane" and "Mary Jane").
- Normalising: Unicode compatibility form, accents removed ("Zoë" = "Zoe"), case folded, and
  spaces, hyphens, apostrophes and full stops removed ("O'Neill-Davies" = "oneill davies").
Anything else is CPR03 (not verified). Which field disagreed is said; PDS's value never is.
"""

import re
import unicodedata
from datetime import date

from identity.records import PdsRecord

_IGNORED = re.compile(r"[\s\-'’‘.`]+")


def name_key(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _IGNORED.sub("", bare.casefold())


def _first_given(given_names: str) -> str:
    words = [w for w in re.split(r"[\s]+", given_names.strip()) if w]
    return name_key(words[0]) if words else ""


def given_names_match(row_given: str, pds_given: tuple[str, ...]) -> bool:
    if not pds_given:
        return False
    if name_key(row_given) == name_key(" ".join(pds_given)):
        return True
    mine = _first_given(row_given)
    theirs = name_key(pds_given[0])
    if not mine or not theirs:
        return False
    if mine == theirs:
        return True
    return (len(mine) == 1 and theirs.startswith(mine)) or (len(theirs) == 1 and mine.startswith(theirs))


def mismatches(*, family_name: str, given_names: str, date_of_birth: date, record: PdsRecord) -> list[str]:
    """The fields that disagree with PDS: [] when the row is verified."""
    wrong = []
    if record.date_of_birth is None or record.date_of_birth != date_of_birth:
        wrong.append("date of birth")
    family = name_key(family_name)
    if not any(name_key(pds_family) == family for pds_family, _ in record.names):
        wrong.append("family name")
    if not any(given_names_match(given_names, pds_given) for _, pds_given in record.names):
        wrong.append("given name")
    return wrong
