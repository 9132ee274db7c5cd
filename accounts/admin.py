from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.models import Membership, Organisation, TrainingRecord, User
from accounts.services import membership_grant, membership_is_last_admin, membership_revoke


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


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Role changes made here go through the same audited services as the service's pages."""

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


@admin.register(TrainingRecord)
class TrainingRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "completed_on", "expires_on"]
    readonly_fields = ["expires_on", "recorded_by", "recorded_at"]
