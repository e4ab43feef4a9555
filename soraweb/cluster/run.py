"""Run a django-q2 cluster whose sentinel is this process (see the package's docstring)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import uuid
from types import FrameType

from django_q.cluster import Sentinel
from django_q.humanhash import humanize

logger = logging.getLogger(__name__)


def _as_sentinel_children_were() -> None:
    """In each forked child, the signal handling django-q2's sentinel process gave its children:
    Ctrl+C ignored (the sentinel stops them in order), SIGTERM the default."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_cluster(*, run_once: bool = False) -> int:
    """Spawn the workers, monitor and pusher from this process and guard them until SIGTERM or
    SIGINT (or, ``run_once``, for one guard cycle); then stop them as django-q2 does: the pusher
    first, each worker after its current task, the monitor last. Returns this process's pid."""
    stop_event = multiprocessing.Event()
    start_event = multiprocessing.Event()
    cluster_id = uuid.uuid4()
    name = humanize(cluster_id.hex)
    # start=False: the constructor would otherwise run the guard loop before we set signals.
    sentinel = Sentinel(stop_event, start_event, cluster_id, start=False)
    # django-q2 keys a cluster's status by its main process; that is this one now.
    sentinel.parent_pid = os.getpid()

    def stop(signum: int, frame: FrameType | None) -> None:
        # A thread does the work: the guard loop may hold the event's lock (or the log's) in
        # this very thread when the signal lands, and taking it here would wait for ever.
        def set_stop() -> None:
            logger.info("Q Cluster %s stopping (signal %s).", name, signum)
            stop_event.set()

        threading.Thread(target=set_stop, name="qcluster-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    os.register_at_fork(after_in_child=_as_sentinel_children_were)
    if run_once:
        stop_event.set()  # the guard loop runs once, then stops the cluster
    logger.info("Q Cluster %s starting.", name)
    sentinel.start()  # broker ping, spawn, guard until stopped, then the ordered stop
    logger.info("Q Cluster %s has stopped.", name)
    return os.getpid()
