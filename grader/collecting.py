"""Garbage collection held while a process loads what it keeps for as long as it lives.

A module, a parsed catalogue or moto's service backends are never garbage, yet each collection that
their loading sets off walks them, and everything else the process holds. Whoever loads such things
holds collections meanwhile; holds are counted, from any thread: collection resumes when the last one
is released, and only if it was on when the first began."""
from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holds = 0
_resume = False  # whether collection was on when the first of the current holds began


def hold() -> None:
    """Stop garbage collection until every hold is released."""
    global _holds, _resume
    with _lock:
        if _holds == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holds += 1


def release() -> None:
    """Release one hold; the last one turns collection back on (if it was on before)."""
    global _holds
    with _lock:
        if _holds == 0:
            return
        _holds -= 1
        if _holds == 0 and _resume:
            gc.enable()
