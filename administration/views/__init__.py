"""Access administration pages; every write goes through an audited service (../services.py)."""
