"""Every password field of the account forms is one declaration (accounts.forms._password_field),
so a change to how passwords are read (never stripped, bounded) reaches every form at once."""

import ast
from pathlib import Path

import pytest
from django import forms as django_forms
from django.urls import reverse

from accounts import forms
from audit.models import AuditAction, AuditEvent
from tests.accounts.test_login import current_code, password_step
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def _password_char_fields() -> list[int]:
    """The lines of accounts/forms.py that build a CharField with a password widget."""
    tree = ast.parse(Path(forms.__file__).read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "forms.CharField"
        and any(k.arg == "widget" and ast.unparse(k.value) == "forms.PasswordInput" for k in node.keywords)
    ]


def test_the_password_field_is_declared_once():
    assert len(_password_char_fields()) == 1


@pytest.mark.parametrize(
    ("form", "name", "label", "required"),
    [
        (forms.LoginForm, "password", "Password", "Enter your password"),
        (forms.ReauthenticationForm, "password", "Password", "Enter your password"),
        (forms.PasswordChangeForm, "current_password", "Current password", "Enter your current password"),
        (forms.NewPasswordForm, "new_password", "New password", "Enter a new password"),
        (forms.NewPasswordForm, "new_password_again", "Type the new password again", "Type the new password again"),
    ],
)
def test_each_password_field_keeps_its_words_and_its_bounds(form, name, label, required):
    field = form.base_fields[name]
    assert isinstance(field, django_forms.CharField)
    assert isinstance(field.widget, django_forms.PasswordInput)
    assert (field.label, field.strip, field.max_length) == (label, False, 200)
    assert field.error_messages["required"] == required


def test_a_password_is_not_stripped_of_its_spaces(role_user):
    user = role_user("clinician")
    form = forms.LoginForm({"email": user.email, "password": f"  {TEST_PASSWORD}  "})
    assert form.is_valid()
    assert form.cleaned_data["password"] == f"  {TEST_PASSWORD}  "


@pytest.mark.parametrize("password", ["x" * 201, "x" * 100_000, "\x00" * 10, "‮" + TEST_PASSWORD])
def test_hostile_passwords_at_sign_in_are_refused_not_crashed(client, role_user, password):
    user = role_user("clinician")
    response = password_step(client, user, password=password)
    assert response.status_code == 400
    assert client.get(reverse("accounts:home")).status_code == 302


@pytest.mark.parametrize("password", ["x" * 201, "x" * 100_000, "\x00" * 10])
def test_hostile_passwords_on_the_confirmation_page_are_refused_not_crashed(client_for, role_user, password):
    user = role_user("clinician")
    response = client_for(user).post(reverse("accounts:reauthenticate"), {"password": password, "code": current_code()})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT).exists()
