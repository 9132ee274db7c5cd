from celery import shared_task

from mesh import services


@shared_task(ignore_result=True)
def mesh_poll() -> None:
    services.mesh_poll()
