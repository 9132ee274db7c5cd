"""What identity tells the apps above it, which it must not import (docs/adr/ADR-010-layout.md)."""

from django.dispatch import Signal

# Sent inside the re-verification's transaction with `nhs_number`, `reason` (the IdentityStatus
# it now has), `replacement` (the new number, or "") and `now`, once per number that became
# inactive; each receiver tells whoever holds a plan for it and returns how many notifications it
# raised (notifications/services/inactive.py).
nhs_number_inactive = Signal()
