"""Beat tasks of the audit log: thin interfaces over audit/partitions.py."""

from celery import shared_task

from audit import partitions


@shared_task
def audit_partitions_ensure() -> list[str]:
    return partitions.partitions_ensure()
