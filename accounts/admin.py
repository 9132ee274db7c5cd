"""The Django admin's model pages: break-glass tools for superusers (accounts/operator_admin.py).

The same four-eyes rule as the service's pages applies here: nobody grants themself a role that
shows child data, records their own training, resets their own second factor or changes their
own account's flags. Each refusal is a form error, never a 500.
"""

import contextlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import ValidationError
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import CHILD_DATA_ROLES, Membership, Organisation, TrainingRecord, User
from accounts.services import (
    four_eyes_check,
    membership_grant,
    membership_is_last_admin,
    membership_revoke,
    training_record,
)


class _RequestForm(forms.ModelForm):
    """A model form that knows who is asking, for the four-eyes checks."""

    request = None

    def _four_eyes(self, field: str, what: str) -> None:
        subject = self.cleaned_data.get(field)
        if subject is None or self.request is None:
            return
        try:
            four_eyes_check(user=subject, by=self.request.user, what=what)
        except ValidationError as error:
            self.add_error(field, error)


class _RequestFormAdmin(admin.ModelAdmin):
    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"request": request})


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "ods_code", "kind", "setting_type", "is_active"]
    list_filter = ["kind", "setting_type", "is_active"]
    search_fields = ["name", "ods_code"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "is_active", "last_login"]
    search_fields = ["full_name", "email"]
    exclude = ["password", "user_permissions", "groups"]
    readonly_fields = ["last_login", "date_joined"]

    def has_change_permission(self, request, obj=None):
        # Making oneself a superuser (or reactivating oneself) needs a second operator.
        if obj is not None and obj.pk == request.user.pk:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.pk == request.user.pk:
            return False
        return super().has_delete_permission(request, obj)


class MembershipForm(_RequestForm):
    class Meta:
        model = Membership
        fields = ["user", "organisation", "role"]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("role") in CHILD_DATA_ROLES:
            self._four_eyes("user", "give a role that shows child data to")
        return data


@admin.register(Membership)
class MembershipAdmin(_RequestFormAdmin):
    """Role changes made here go through the same audited services as the service's pages."""

    form = MembershipForm
    list_display = ["user", "organisation", "role", "granted_at"]
    list_filter = ["role"]
    fields = ["user", "organisation", "role"]

    def has_change_permission(self, request, obj=None):
        return False  # remove and grant instead, so each change is one audited event

    def has_delete_permission(self, request, obj=None):
        # The last active administrator of an organisation stays (membership_revoke refuses).
        if obj is not None and membership_is_last_admin(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        membership_grant(user=obj.user, organisation=obj.organisation, role=obj.role, by=request.user, request=request)

    def delete_model(self, request, obj):
        membership_revoke(membership=obj, by=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            try:
                membership_revoke(membership=membership, by=request.user, request=request)
            except ValidationError as error:
                messages.error(request, error.messages[0])


class TrainingRecordForm(_RequestForm):
    class Meta:
        model = TrainingRecord
        fields = ["user", "course", "completed_on"]

    def clean(self):
        data = super().clean()
        self._four_eyes("user", "record training for")
        return data


@admin.register(TrainingRecord)
class TrainingRecordAdmin(_RequestFormAdmin):
    """Added through the same audited service as the org admins' page; never edited."""

    form = TrainingRecordForm
    list_display = ["user", "course", "completed_on", "expires_on"]
    fields = ["user", "course", "completed_on"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        record = training_record(
            user=obj.user, course=obj.course, completed_on=obj.completed_on, by=request.user, request=request
        )
        obj.pk = record.pk
        obj.expires_on = record.expires_on


class _OwnDeviceGuard(admin.ModelAdmin):
    """Operators cannot change or delete their own second factor here (a colleague resets it).

    Mixed in before a device's own admin, whose methods `super()` reaches; a ModelAdmin itself so
    those methods are known to exist (the order the classes resolve in is the same)."""

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.exclude(user=request.user))


class GuardedTOTPDeviceAdmin(_OwnDeviceGuard, TOTPDeviceAdmin):
    pass


class GuardedStaticDeviceAdmin(_OwnDeviceGuard, StaticDeviceAdmin):
    pass


class GuardedWebAuthnCredentialAdmin(_OwnDeviceGuard, WebAuthnCredentialAdmin):
    pass


for _model, _model_admin in (
    (TOTPDevice, GuardedTOTPDeviceAdmin),
    (StaticDevice, GuardedStaticDeviceAdmin),
    (WebAuthnCredential, GuardedWebAuthnCredentialAdmin),
):
    with contextlib.suppress(NotRegistered):
        admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)
