"""A process pool that survives its workers: images in flight when a worker process died are
retried one at a time, so the image that kills its process is named and the others are computed.
"""
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, List, Sequence

from data_prep.image_work import ImageResult, failed_result
from data_prep.workers import init_worker, work

Collect = Callable[[List[ImageResult]], None]


def run_isolated(paths: Sequence[str], workers: int, root, search, box_filter,
                 collect: Collect, chunk: int = 4) -> None:
    """Compute every image in ``workers`` processes, passing each chunk's results to ``collect``.

    An image on which a worker process dies (a crash in the decoder or in selective search) gets
    a failed result naming that; the images that were in flight with it are computed again.
    """
    chunks = [list(paths[i:i + chunk]) for i in range(0, len(paths), chunk)]
    suspects = run_pool(chunks, workers, root, search, box_filter, collect)
    for p in suspects:
        left = run_pool([[p]], 1, root, search, box_filter, collect)
        if left:
            collect([failed_result(p, 'the worker process died on this image (crash in the '
                                      'decoder or in selective search)')])


def run_pool(chunks, workers, root, search, box_filter, collect: Collect) -> List[str]:
    """Run chunks in a process pool; returns the images of chunks lost to a dead worker."""
    # Workers come from a fresh server process, not a fork of this one: a fork copies OpenCV's
    # (and OpenMP's) thread pools in whatever state they are, and a child then deadlocks in its
    # first cv2 call when the parent had used cv2 (seen: writing the demo images, then
    # generating proposals in the same process, hung with idle workers).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context('forkserver' if 'forkserver' in methods else 'spawn')
    lost: List[str] = []
    queue = list(reversed(chunks))
    window = max(2, workers * 4)
    while queue:
        broken = False
        # the workers' lifeline: they end when this end closes (see workers.exit_with_parent)
        alive_r, alive_w = ctx.Pipe(duplex=False)
        try:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                     initargs=(root, search, box_filter, alive_r)) as pool:
                running = {}
                try:
                    while (queue or running) and not broken:
                        while queue and len(running) < window:
                            c = queue.pop()
                            running[pool.submit(work, c)] = c
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            c = running.pop(fut)
                            try:
                                collect(fut.result())
                            except BrokenProcessPool:
                                broken = True
                                lost.extend(c)
                    if broken:
                        for fut, c in running.items():
                            try:
                                collect(fut.result())
                            except BrokenProcessPool:
                                lost.extend(c)
                        running.clear()
                except BaseException:
                    for fut in running:
                        fut.cancel()
                    alive_w.close()  # stop the workers now, busy or not
                    raise
        finally:
            alive_w.close()
            alive_r.close()
    return lost
