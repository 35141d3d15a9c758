"""Locks that die with their process (fcntl.flock on a file beside what they guard), so any number of
au-reproduce processes, or a cluster's array tasks, can share one --work and one --results: each run is
trained by the process that holds its lock, and the results folder is written by one at a time."""
import fcntl
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held(lock_path, wait=True):
    """Holds an exclusive lock on lock_path for the block and yields None; when another process holds it
    and wait is False, yields at once the holder's description ("pid 123 on node7 since 14:05:11 UTC")
    without the lock. The file keeps the holder's description for the others' messages."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            f.seek(0)
            yield f.read().strip() or "another process"
            return
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S %Z')}\n")
        f.flush()
        try:
            yield None
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
