"""The worker processes' side: their set-up, their work, and their end with the main process.

Workers end with the main process however it ends (even SIGKILL): each waits on a pipe whose
only writer is the main process, and on Linux also asks the kernel for SIGKILL when its parent
dies (``PR_SET_PDEATHSIG``).  Once the workers are gone the forkserver, which lives while any
process holding its "alive" pipe lives, exits by itself.
"""
import ctypes
import os
import signal
import sys
import threading
from typing import List, Sequence

from data_prep.image_work import ImageResult, process_image

_WORKER: dict = {}
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
EXIT_ORPHANED = 75  # a worker's exit status when the main process went away


def exit_with_parent(alive) -> None:
    """End this worker process as soon as the main process is gone, however it ended.

    Args:
        alive (multiprocessing.connection.Connection): Read end of a pipe whose only writer is
            the main process. The kernel closes the writer when the main process dies (SIGKILL
            included); a thread here then reads EOF and ends the process, busy or not. The main
            process closes it on purpose to stop its workers (Ctrl-C).
    """
    if sys.platform.startswith('linux'):
        try:  # and when the parent (the forkserver, or the main process under spawn) dies
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass

    def watch():
        try:
            alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name='exit-with-parent', daemon=True).start()


def init_worker(root, search, box_filter, alive=None) -> None:
    """Set a worker (or the main process, for ``workers=0``) up for :func:`work`."""
    import cv2
    cv2.setNumThreads(1)  # one image per process; OpenCV's own threads would oversubscribe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the main process
    if alive is not None:
        exit_with_parent(alive)
    _WORKER.update(root=root, search=search, box_filter=box_filter)


def work(chunk: Sequence[str]) -> List[ImageResult]:
    """The results of a chunk of images, in a worker set up by :func:`init_worker`."""
    return [process_image(_WORKER['root'], p, _WORKER['search'], _WORKER['box_filter'])
            for p in chunk]
