"""Child processes that cannot outlive the harness: the dbt runner and Spark's loader each run in a
child that dies with its parent (Linux PR_SET_PDEATHSIG), so a build killed with kill -9 leaves no
orphan holding the warehouse.

The dbt runner's children are forked by a multiprocessing fork server that has dbt imported already
(dbt.py).  Their kernel parent is the fork server, which a child keeps alive (it holds the server's
liveness pipe), so such a child watches the harness itself: a thread waits on a pidfd of the
harness and ends the child the moment the harness ends, however it ends."""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, *, forked_by_server: bool = False) -> None:
    """Call first thing in a child: the kernel kills it when its parent dies.  parent_pid is the
    harness; with forked_by_server the kernel parent is the fork server, which this child keeps
    alive, so the child watches the harness itself (_exit_when_ended)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if forked_by_server:
        _exit_when_ended(parent_pid)
    elif os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def _exit_when_ended(pid: int) -> None:
    """End this process as soon as process pid ends (a pidfd is readable once it has)."""
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:  # already gone
        os._exit(1)

    def watch() -> None:
        select.select([watched], [], [])
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-when-{pid}-ends", daemon=True).start()
