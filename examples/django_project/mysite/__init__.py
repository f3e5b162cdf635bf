"""An example Django project using errands: see settings.ERRANDS, TASKS and asgi.py."""
