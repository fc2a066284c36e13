from . import test_push_jobs
