"""The ASGI entry point: Django, with the errands HTTP API beside it under /errands.

    uvicorn mysite.asgi:application          # run from examples/django_project
"""

import os

from django.core.asgi import get_asgi_application

from errands.integrations.django.asgi import with_errands_api

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = with_errands_api(get_asgi_application())  # get_asgi_application() sets Django up first
