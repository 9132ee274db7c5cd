"""Who may use each plans URL: the LA's plan managers edit and upload, its social workers read,
everyone else is refused (403), and another LA's plan or upload is 404 to those who pass the
role check, exactly as if it did not exist."""

from plans.models import FileCode, PlanUpload, UploadStatus
from tests.factories import PlanFactory
from tests.url_permissions import PERSONAS, Expect


def _plan(world, persona, own):
    return {"plan_id": PlanFactory(organisation=world.la if own else world.other_la).pk}


def _upload(status):
    def build(world, persona, own):
        upload = PlanUpload.objects.create(
            organisation=world.la if own else world.other_la,
            filename="plans.csv",
            status=status,
            file_code="" if status == UploadStatus.PREVIEW else FileCode.CPF03,
            counts={"rows": 2, "accepted": 1, "rejected": 1, "created": 1},
            columns=["nhs_number"],
        )
        upload.rejections.create(line_number=3, reason="invalid_nhs_number", message="Invalid", cells=["=1+1"])
        return {"upload_id": upload.pk}

    return build


def _refused_except(*allowed: str) -> dict[str, int]:
    """403 for every signed-in persona not in `allowed` (the role check comes before the lookup)."""
    return {p: 403 for p in PERSONAS if p != "anonymous" and p not in allowed}


READERS = ("plan_manager", "social_worker")
READ = {"plan_manager": 200, "social_worker": 200}
MANAGE = {"plan_manager": 200}

EXPECTATIONS = [
    Expect("plans:list", statuses=READ),
    Expect("plans:new", statuses=MANAGE),
    Expect("plans:contacts", statuses=MANAGE),
    Expect("plans:upload", statuses=MANAGE),
    Expect("plans:upload_template", statuses=MANAGE),
    Expect("plans:detail", statuses=READ, kwargs=_plan, other_statuses=_refused_except(*READERS)),
    Expect("plans:edit", statuses=MANAGE, kwargs=_plan, other_statuses=_refused_except("plan_manager")),
    Expect("plans:end", statuses=MANAGE, kwargs=_plan, other_statuses=_refused_except("plan_manager")),
    Expect("plans:withdraw", statuses=MANAGE, kwargs=_plan, other_statuses=_refused_except("plan_manager")),
    Expect(
        "plans:upload_detail",
        statuses=MANAGE,
        kwargs=_upload(UploadStatus.APPLIED),
        other_statuses=_refused_except("plan_manager"),
    ),
    Expect(
        "plans:upload_progress",
        statuses=MANAGE,
        kwargs=_upload(UploadStatus.QUEUED),
        other_statuses=_refused_except("plan_manager"),
    ),
    Expect(
        "plans:upload_rejections",
        statuses=MANAGE,
        kwargs=_upload(UploadStatus.APPLIED),
        other_statuses=_refused_except("plan_manager"),
    ),
    Expect(
        "plans:upload_confirm",
        method="post",
        statuses={"plan_manager": 302},
        kwargs=_upload(UploadStatus.PREVIEW),
        other_statuses=_refused_except("plan_manager"),
    ),
    Expect(
        "plans:upload_cancel",
        method="post",
        statuses={"plan_manager": 302},
        kwargs=_upload(UploadStatus.PREVIEW),
        other_statuses=_refused_except("plan_manager"),
    ),
]
