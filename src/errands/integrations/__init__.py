"""Web-framework integrations: FastAPI/Starlette (`starlette`), Flask (`flask`) and Django (`django`).

Each module imports its framework, so import the one you use; none is imported here.
Install the framework with its extra, e.g. `pip install 'errands[flask]'`.
"""
