import datetime as dt

import factory
import faker
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Organisation, OrganisationKind, Role, SettingType, TrainingRecord, User
from core.nhs_numbers import nhs_test_numbers

TEST_PASSWORD = "correct-horse-battery-staple"

_FAKE = faker.Faker("en_GB")


def _plain(name: str) -> str:
    # Random names such as "O'Neill" are HTML-escaped on the page (&#x27;), which made tests that
    # look for a name in the page fail now and then. Escaping itself is tested with fixed names.
    return name.replace("'", "’")


# 20 bytes, hex, as django-otp stores it; tests compute codes from it with django_otp.oath.totp.
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    ods_code = factory.Sequence(lambda n: f"ORG{n:04d}")
    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.CARE_SETTING
    setting_type = SettingType.ED
    phone = "0113 496 0100"

    class Params:
        local_authority = factory.Trait(
            kind=OrganisationKind.LOCAL_AUTHORITY,
            setting_type="",
            name=factory.Sequence(lambda n: f"Local Authority {n}"),
            ods_code=factory.Sequence(lambda n: f"LA{n:04d}"),
            office_hours_phone="0113 496 0001",
            emergency_duty_phone="0113 496 0999",
            team_mailbox=factory.Sequence(lambda n: f"team{n}@la.example"),
            phone="",
        )
        national = factory.Trait(kind=OrganisationKind.NATIONAL, setting_type="", name="NHS England", phone="")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.nhs.uk")
    full_name = factory.LazyFunction(lambda: _plain(_FAKE.name()))
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def trained(self, create, extracted, **kwargs):
        if extracted:
            TrainingRecord.objects.create(
                user=self, course="CP-IS e-learning", completed_on=timezone.localdate() - dt.timedelta(days=10)
            )

    @factory.post_generation
    def enrolled(self, create, extracted, **kwargs):
        if extracted:
            TOTPDevice.objects.create(user=self, name="Phone", key=TEST_TOTP_KEY, confirmed=True)
        self.save()


def user_with_role(
    role: str, organisation: Organisation | None = None, *, trained: bool = True, enrolled: bool = True
) -> User:
    if organisation is None:
        kind = {
            Role.CLINICIAN: {},
            Role.SAFEGUARDING_LEAD: {},
            Role.SOCIAL_WORKER: {"local_authority": True},
            Role.PLAN_MANAGER: {"local_authority": True},
            Role.NATIONAL_ADMIN: {"national": True},
            Role.ORG_ADMIN: {},
            Role.PRIVACY_OFFICER: {},
        }[role]
        organisation = OrganisationFactory(**kind)
    user = UserFactory(trained=trained, enrolled=enrolled)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


_VALID_TEST_NUMBERS: list[str] = []
_test_numbers = nhs_test_numbers()


def nhs_number_for(n: int) -> str:
    """The n-th valid NHS number in the 999 test range (never a real person's number); distinct
    n give distinct numbers."""
    while len(_VALID_TEST_NUMBERS) <= n:
        _VALID_TEST_NUMBERS.append(next(_test_numbers))
    return _VALID_TEST_NUMBERS[n]


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.Plan"

    organisation = factory.SubFactory(OrganisationFactory, local_authority=True)
    nhs_number = factory.Sequence(nhs_number_for)
    family_name = factory.LazyFunction(lambda: _plain(_FAKE.last_name()))
    given_names = factory.LazyFunction(lambda: _plain(_FAKE.first_name()))
    date_of_birth = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 8))
    plan_type = "CPP"
    start_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=100))

    class Params:
        ended = factory.Trait(end_date=factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=10)))
        withdrawn_in_error = factory.Trait(withdrawn=True)
        looked_after = factory.Trait(plan_type="LAC")
        unborn = factory.Trait(
            plan_type="UCPP",
            date_of_birth=factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=365 * 25)),
            expected_due_date=factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=60)),
        )


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "attendances.Visit"

    nhs_number = factory.Sequence(nhs_number_for)
    arrived_at = factory.LazyFunction(timezone.now)
    care_setting = factory.SubFactory(OrganisationFactory)
    checked_by_name = factory.LazyFunction(lambda: _plain(_FAKE.name()))
    checked_by_role = "clinician"
