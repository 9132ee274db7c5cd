"""How the check pages say ages, roles, plans and phone numbers (dates: core/formatting.py)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone
from markupsafe import Markup

from accounts.models import Role, SettingType
from plans.models import Plan, PlanType


def age(born: date, today: date | None = None) -> str:
    """A child's age as a clinician says it: "7 years", "11 months", "3 weeks"."""
    today = today or timezone.localdate()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years >= 2:
        return f"{years} years"
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    if months >= 1:
        return f"{months} month{'s' if months != 1 else ''}"
    weeks = (today - born).days // 7
    return f"{weeks} week{'s' if weeks != 1 else ''}" if weeks else "under a week"


def role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


def setting_type_label(value: str) -> str:
    try:
        return SettingType(value).label
    except ValueError:
        return value


def tel_href(phone: str) -> str:
    return "tel:" + "".join(c for c in phone if c.isdigit() or c == "+")


def plan_heading(plans: list[Plan]) -> str:
    """The page's one-line answer: which plan types, open ones first.

    "Child Protection Plan and Looked After Child" when all are open. As soon as any type has
    ended, every type carries its own state ("Child Protection Plan (open) and Looked After
    Child (ended)"), because a single trailing "(ended)" reads as applying to the whole list
    and would call an open plan ended.
    """
    today = timezone.localdate()
    open_names: list[str] = []
    ended_names: list[str] = []
    for plan_type in (PlanType.CPP, PlanType.LAC, PlanType.UCPP):
        of_type = [p for p in plans if p.plan_type == plan_type]
        if not of_type:
            continue
        if all(p.is_ended(today=today) for p in of_type):
            ended_names.append(PlanType(plan_type).label)
        else:
            open_names.append(PlanType(plan_type).label)
    if ended_names:
        names = [f"{n} (open)" for n in open_names] + [f"{n} (ended)" for n in ended_names]
        if not open_names and len(ended_names) == 1:
            names = [f"{ended_names[0]} (ended)"]
    else:
        names = open_names
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def is_ended(plan: Plan) -> bool:
    return plan.is_ended(today=timezone.localdate())


@dataclass
class Episode:
    """One attendance: the checks at one care setting close enough together to be one visit,
    as the notifications count them (NOTIFICATION_EPISODE_HOURS)."""

    visits: list  # newest first

    @property
    def first(self):
        return self.visits[-1]

    @property
    def last(self):
        return self.visits[0]

    @property
    def repeat_checks(self) -> int:
        return len(self.visits) - 1


def visit_episodes(visits: list) -> list[Episode]:
    """Newest-first visits → newest-first episodes. A repeat check (a second clinician, the
    form after a shift change) joins the episode instead of looking like another attendance."""
    window = timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS)
    episodes: list[Episode] = []
    for visit in visits:
        current = episodes[-1] if episodes else None
        if (
            current is not None
            and current.first.care_setting_id == visit.care_setting_id
            and current.first.arrived_at - visit.arrived_at <= window
        ):
            current.visits.append(visit)
        else:
            episodes.append(Episode([visit]))
    return episodes


# Where a remembered card's frame (`cpis.jinja2.rendered_once`: heading, classes, the
# design system's markup, the same for every child of one LA) takes this request's body: the
# child's details must never be part of a process-wide cache's key or value.
CARD_BODY = Markup("<!--cpis:card-body-->")


def card_filled(frame: Markup, body: Markup) -> Markup:
    """The remembered `frame`, rendered with `"html": CARD_BODY`, with `body` in its place."""
    before, slot, after = str(frame).partition(CARD_BODY)
    if not slot:
        # The design system changed how it renders a card's html: fail the page, never drop
        # the child's details from it.
        raise ValueError("The card's frame has no place for its body")
    return Markup(before) + body + Markup(after)  # noqa: S704 - the macro's own escaped output and the template's


def helpers() -> dict:
    return {
        "CARD_BODY": CARD_BODY,
        "card_filled": card_filled,
        "age": age,
        "role_label": role_label,
        "setting_type_label": setting_type_label,
        "tel_href": tel_href,
        "plan_heading": plan_heading,
        "is_ended": is_ended,
        "visit_episodes": visit_episodes,
        "PlanType": PlanType,
    }
