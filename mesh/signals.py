"""What mesh tells the apps above it, which it must not import (docs/adr/ADR-010-layout.md)."""

from django.dispatch import Signal

# Sent inside the poll's transaction with `delivery_id` (the notifications' Delivery row whose
# MESH message it was) and `reason` (MESH's code and description), when MESH reports that
# message not delivered; each receiver fails that delivery, so admins see it and can send it
# again, and returns how many it failed (notifications/services/mesh_reports.py).
mesh_notification_undelivered = Signal()
