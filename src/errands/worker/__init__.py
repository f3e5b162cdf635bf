"""Workers: claim jobs from a store and run them (threads for plain tasks, an event loop for async ones)."""

from .config import WorkerConfig
from .loop import Worker

__all__ = ["Worker", "WorkerConfig"]
