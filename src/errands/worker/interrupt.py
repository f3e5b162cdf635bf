"""Raising an exception inside another thread, to stop a plain task that ran past its timeout.

CPython delivers it at the thread's next bytecode, so pure-Python loops stop at
once; a thread blocked inside one long C call stops when that call returns.
"""

from __future__ import annotations

import ctypes


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> bool:
    """Schedule `exc_type` to be raised in the thread; False if no such thread."""
    changed: int = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))
    if changed > 1:  # more than one thread touched: undo, as the C API asks
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return changed == 1
