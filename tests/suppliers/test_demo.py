import pytest
from django.core.management import call_command

from suppliers.judge import run_report
from suppliers.models import AccreditationState, RunState, SupplierSystem

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_accredited_epr_and_one_in_testing_with_a_finished_run(settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force", verbosity=0)
    call_command("seed_demo", "--force", verbosity=0)
    accredited = SupplierSystem.objects.get(state=AccreditationState.ACCREDITED)
    assert accredited.uses.count() == 2
    testing = SupplierSystem.objects.get(state=AccreditationState.TESTING)
    run = testing.runs.get()
    assert run.state == RunState.FINISHED and run.requests.count() >= 10
    report = run_report(run)
    results = {r.scenario.key: r for r in report.scenarios}
    assert not report.passed and results["outage"].status == "failed"
    assert "retry_wait" in {rule for j in results["outage"].requests for rule in j.broken}
