"""Worker tasks for accounts: thin, they take ids and call a service."""

from celery import shared_task

from accounts import passwords


@shared_task(ignore_result=True, name="accounts.tasks.password_reset_email_send")
def password_reset_email_send(user_id: int | None) -> None:
    """E-mails a reset link; None (queued for an address with no account) sends nothing."""
    if user_id is not None:
        passwords.password_reset_email_send(user_id=user_id)
