"""Worker tasks for accounts: thin, they take ids and call a service."""

from celery import shared_task

from accounts import account_emails, passwords

# One e-mail each, every SMTP step timing out after EMAIL_TIMEOUT: well within a minute. A link
# not sent in time is asked for again; a passkey notice is lost, and the audit log keeps the change.
_SOFT_LIMIT, _HARD_LIMIT = 60, 75


@shared_task(
    ignore_result=True,
    name="accounts.tasks.password_reset_email_send",
    soft_time_limit=_SOFT_LIMIT,
    time_limit=_HARD_LIMIT,
)
def password_reset_email_send(user_id: int | None) -> None:
    """E-mails a reset link; None (queued for an address with no account) sends nothing."""
    if user_id is not None:
        passwords.password_reset_email_send(user_id=user_id)


@shared_task(
    ignore_result=True,
    name="accounts.tasks.passkey_change_email_send",
    soft_time_limit=_SOFT_LIMIT,
    time_limit=_HARD_LIMIT,
)
def passkey_change_email_send(user_id: int, change: str, count: int, at: str) -> None:
    """Tells the person their passkeys changed (`change`, accounts/account_emails.py), at `at`."""
    account_emails.passkey_change_email_send(user_id=user_id, change=change, count=count, at=at)
