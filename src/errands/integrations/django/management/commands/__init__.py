"""`manage.py errands_worker`."""
