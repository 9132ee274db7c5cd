"""What accounts tells the apps above it, which it must not import (docs/adr/ADR-010-layout.md)."""

from django.dispatch import Signal

# Sent inside the deactivation's transaction with `user`; each receiver ends what the account
# holds in its app and returns how many it ended (the count goes into the audit record).
user_deactivated = Signal()
