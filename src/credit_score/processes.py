"""Child processes that cannot outlive the harness: the dbt runner and Spark's loader each run in a
child that dies with its parent (Linux PR_SET_PDEATHSIG), so a build killed with kill -9 leaves no
orphan holding the warehouse."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a child: the kernel kills it when its parent dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
