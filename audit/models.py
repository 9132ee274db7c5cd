from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.utils import timezone


class AuditAction(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGIN_LOCKED_OUT = "login_locked_out", "Sign-in locked out"
    LOGOUT = "logout", "Signed out"
    SESSION_EXPIRED = "session_expired", "Session expired"
    OTP_FAILED = "otp_failed", "Two-factor code refused"
    OTP_ENROLLED = "otp_enrolled", "Two-factor authentication enrolled"
    OTP_BACKUP_CODE_USED = "otp_backup_code_used", "Backup code used"
    ORGANISATION_SWITCHED = "organisation_switched", "Changed organisation"
    ROLE_GRANTED = "role_granted", "Role granted"
    ROLE_REMOVED = "role_removed", "Role removed"
    USER_DEACTIVATED = "user_deactivated", "User deactivated"
    USER_REACTIVATED = "user_reactivated", "User reactivated"
    TRAINING_RECORDED = "training_recorded", "Training recorded"
    GATE_REFUSED = "gate_refused", "Refused at the trained-user gate"
    # The check journey (attendances): every look at a child's CP-IS record, plan or not.
    CHILD_CHECKED = "child_checked", "Child checked (attendance recorded if on a plan)"
    CHILD_VIEWED_SILENTLY = "child_viewed_silently", "Child viewed without notifying"
    CHILD_VIEWED_BY_LA = "child_viewed_by_la", "Child viewed by the local authority"
    CHILD_CHECKS_LISTED = "child_checks_listed", "Own checks of today listed"
    API_TOKEN_ISSUED = "api_token_issued", "API token issued"
    API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"
    FHIR_REQUEST_REFUSED = "fhir_request_refused", "FHIR API request refused"
    FHIR_ACCESS_HISTORY_READ = "fhir_access_history_read", "Access history read through the FHIR API"
    NOTIFICATION_INBOX_VIEWED = "notification_inbox_viewed", "Notification inbox viewed"
    NOTIFICATION_OPENED = "notification_opened", "Notification opened"
    NOTIFICATION_ASSIGNED = "notification_assigned", "Notification assigned"
    NOTIFICATION_ACKNOWLEDGED = "notification_acknowledged", "Notification acknowledged"
    NOTIFICATION_DELIVERY_RETRIED = "notification_delivery_retried", "Failed notification delivery retried"
    NOTIFICATION_EMAIL_RECEIPT = "notification_email_receipt", "E-mail delivery receipt from GOV.UK Notify"
    NOTIFY_CALLBACK_REFUSED = "notify_callback_refused", "GOV.UK Notify callback refused"
    INVITATION_SENT = "invitation_sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
    INVITATION_REFUSED = "invitation_refused", "Invitation link refused"
    INVITATION_CANCELLED = "invitation_cancelled", "Invitation cancelled"
    OTP_RESET = "otp_reset", "Two-factor authentication reset"
    ACCOUNT_LOCKED = "account_locked", "Account locked after not being used"
    TRAINING_REMINDER_SENT = "training_reminder_sent", "Training expiry reminder sent"
    ORGANISATION_CREATED = "organisation_created", "Organisation created"
    ORGANISATION_UPDATED = "organisation_updated", "Organisation changed"
    ORGANISATIONS_IMPORTED = "organisations_imported", "Organisations imported from CSV"
    ACCESS_REVIEW_EXPORTED = "access_review_exported", "Access review exported"
    ACCESS_REVIEW_RECORDED = "access_review_recorded", "Access review recorded as done"
    AUDIT_SEARCHED = "audit_searched", "Audit log searched"
    AUDIT_EXPORTED = "audit_exported", "Audit log exported"
    PLAN_LIST_VIEWED = "plan_list_viewed", "Plan list viewed"
    PLAN_VIEWED = "plan_viewed", "Plan viewed"
    PLAN_CREATED = "plan_created", "Plan created"
    PLAN_UPDATED = "plan_updated", "Plan updated"
    PLAN_ENDED = "plan_ended", "Plan ended"
    PLAN_WITHDRAWN = "plan_withdrawn", "Plan withdrawn"
    PLANS_ENDED_AT_18 = "plans_ended_at_18", "Plans ended on the 18th birthday"
    PLANS_PURGED = "plans_purged", "Plans purged after retention"
    PLAN_UPLOAD_RECEIVED = "plan_upload_received", "Plan file uploaded"
    PLAN_UPLOAD_VIEWED = "plan_upload_viewed", "Plan upload report viewed"
    PLAN_UPLOAD_CONFIRMED = "plan_upload_confirmed", "Plan upload confirmed"
    PLAN_UPLOAD_CANCELLED = "plan_upload_cancelled", "Plan upload cancelled"
    PLAN_UPLOAD_APPLIED = "plan_upload_applied", "Plan upload applied"
    PLAN_UPLOAD_FAILED = "plan_upload_failed", "Plan upload failed"
    PLAN_UPLOAD_HELD = "plan_upload_held", "Plan upload held: PDS unavailable (CPF05)"
    NHS_NUMBER_INACTIVE = "nhs_number_inactive", "Inactive NHS number notified"
    PLAN_UPLOAD_REJECTIONS_DOWNLOADED = "plan_upload_rejections_downloaded", "Rejected rows downloaded"
    LA_CONTACTS_UPDATED = "la_contacts_updated", "Local authority contact details changed"
    # A 403 or 404 from an access helper or a role check on a URL naming an object or a page.
    ACCESS_REFUSED = "access_refused", "Access refused"
    DJANGO_ADMIN_LOGIN = "django_admin_login", "Signed in to the Django admin"
    DJANGO_ADMIN_USED = "django_admin_used", "Django admin page used"
    DJANGO_ADMIN_CHANGE = "django_admin_change", "Change made in the Django admin"
    CHECK_RATE_LIMITED = "check_rate_limited", "Checks refused over the hourly limit"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset link requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed", "Password reset with an e-mailed link"
    PASSWORD_RESET_SENT_BY_ADMIN = "password_reset_sent_by_admin", "Password reset link sent by an administrator"
    BACKUP_CODES_REGENERATED = "backup_codes_regenerated", "Backup codes regenerated"
    WEBHOOK_CHANGED = "webhook_changed", "Webhook endpoint changed"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
    WEBHOOK_TEST_SENT = "webhook_test_sent", "Webhook test delivery sent"
    PASSKEY_REGISTERED = "passkey_registered", "Passkey added"
    PASSKEY_USED = "passkey_used", "Passkey used to sign in"
    PASSKEY_REMOVED = "passkey_removed", "Passkey removed"
    PASSKEY_FAILED = "passkey_failed", "Passkey refused"
    # A fresh second factor before adding a passkey (accounts/reauthentication.py).
    REAUTHENTICATED = "reauthenticated", "Identity confirmed again"
    # Single sign-on through an organisation's OpenID Connect provider (single_sign_on/).
    SSO_LOGIN = "sso_login", "Identity provider sign-in accepted"
    SSO_REFUSED = "sso_refused", "Single sign-on refused"
    SSO_LINK_REQUESTED = "sso_link_requested", "Single sign-on identity waiting for an administrator"
    SSO_LINKED = "sso_linked", "Single sign-on identity linked"
    SSO_LINK_DECLINED = "sso_link_declined", "Single sign-on identity declined"
    SSO_SESSION_ENDED = "sso_session_ended", "Session ended by the identity provider"
    SSO_PROVIDER_CHANGED = "sso_provider_changed", "Single sign-on provider configured"
    MESH_MAILBOX_CHANGED = "mesh_mailbox_changed", "MESH mailbox of a local authority set"
    MESH_MESSAGE_RECEIVED = "mesh_message_received", "MESH message received"
    MESH_MESSAGE_REFUSED = "mesh_message_refused", "MESH message refused"
    MESH_REPORT_RECEIVED = "mesh_report_received", "MESH report: a message of ours not delivered"
    # Access-pattern alerts and "who has looked at this child" (privacy/).
    PRIVACY_ALERT_RAISED = "privacy_alert_raised", "Access-pattern alert raised"
    PRIVACY_ALERT_VIEWED = "privacy_alert_viewed", "Access-pattern alert viewed"
    PRIVACY_INVESTIGATION_OPENED = "privacy_investigation_opened", "Investigation of an alert opened"
    PRIVACY_ALERT_CLOSED = "privacy_alert_closed", "Outcome of an alert recorded"
    PRIVACY_ACCESS_REPORT = "privacy_access_report", "Who has looked at a child: report made"
    PRIVACY_OPEN_ALERTS_SENT = "privacy_open_alerts_sent", "Open alerts count e-mailed"
    # The register of supplier systems and their conformance runs (suppliers/).
    SUPPLIER_SYSTEM_ADDED = "supplier_system_added", "Supplier system added"
    SUPPLIER_SYSTEM_CHANGED = "supplier_system_changed", "Supplier system changed"
    SUPPLIER_SYSTEM_ACCREDITED = "supplier_system_accredited", "Supplier system accredited"
    SUPPLIER_SYSTEM_WITHDRAWN = "supplier_system_withdrawn", "Supplier system's accreditation withdrawn"
    SUPPLIER_SYSTEM_USE_CHANGED = "supplier_system_use_changed", "Systems an organisation uses changed"
    CONFORMANCE_RUN_OPENED = "conformance_run_opened", "Conformance run opened"
    CONFORMANCE_CONFIRMED = "conformance_confirmed", "Conformance run: tester's confirmations recorded"
    CONFORMANCE_RUN_FINISHED = "conformance_run_finished", "Conformance run finished"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AuditEvent(models.Model):
    """Append-only: the database refuses UPDATE, DELETE and TRUNCATE (migrations 0002, 0007).

    On PostgreSQL the table is partitioned by month of `occurred_at` (migration 0011,
    audit/partitions.py); its primary key there is (id, occurred_at), `id` unique on its own.
    """

    occurred_at = models.DateTimeField(default=timezone.now)
    # No index of their own: the (user, time) and (organisation, time) indexes serve both.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    roles = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    nhs_number = models.CharField(max_length=10, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS)
    # The caller's TraceID (the FHIR API takes any printable token up to 200 characters).
    trace_id = models.CharField(max_length=200, blank=True)
    # Identifiers only (object ids, counts, codes); never names or dates of birth.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # The audit viewer's searches, each newest first: by child, by organisation, by user,
            # by action, by date alone. A search combining them starts from the most selective
            # (the NHS number or the user) and filters the rest in that index's time order.
            models.Index(fields=["nhs_number", "-occurred_at"], name="audit_nhs_time_idx"),
            models.Index(fields=["organisation", "-occurred_at"], name="audit_org_time_idx"),
            models.Index(fields=["user", "-occurred_at"], name="audit_user_time_idx"),
            models.Index(fields=["action", "-occurred_at"], name="audit_action_time_idx"),
            models.Index(fields=["-occurred_at"], name="audit_time_idx"),
            # An org admin's view: events with no organisation about one of its users.
            models.Index(
                KeyTransform("subject_user_id", "detail"),
                models.F("occurred_at").desc(),
                condition=models.Q(organisation__isnull=True),
                name="audit_subject_user_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.outcome}"
