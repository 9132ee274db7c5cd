import gc

from cpis import gunicorn


def test_each_worker_puts_what_it_loaded_at_start_out_of_the_collectors_reach():
    before = gc.get_freeze_count()
    try:
        gunicorn.post_worker_init(worker=None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
