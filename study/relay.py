"""What a run's worker processes say on stderr, said once by their supervisor.

Every worker meets the same refusal (another search space, a read-only database) or the same
interruption, and says so in its one ``lenet-study:`` line; the supervisor passes the first of
each on, and says itself what happened to a worker that was killed before it could speak.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import IO, Any, TextIO

_OWN_LINES = ("lenet-study: error:", "lenet-study: interrupted")


def _cause(line: str) -> str:
    """The part of a line that names the cause (a worker may add its trial after a ';')."""
    return line.split(";", 1)[0]


class WorkerLines:
    """Forwards each worker's stderr as it comes, holding back its ``lenet-study:`` line.

    ``ended`` prints a finished worker's held lines, each cause once per run.
    """

    def __init__(self, err: TextIO | None = None) -> None:
        self.err = err or sys.stderr
        self._held: dict[int, list[str]] = {}
        self._readers: dict[int, threading.Thread] = {}
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def watch(self, process: Any) -> None:
        """Starts reading ``process.stderr`` (a pipe), if it has one."""
        pipe: IO[bytes] | None = getattr(process, "stderr", None)
        if pipe is None:
            return
        held: list[str] = []
        reader = threading.Thread(target=self._pump, args=(pipe, held), daemon=True)
        self._held[id(process)], self._readers[id(process)] = held, reader
        reader.start()

    def _pump(self, pipe: IO[bytes], held: list[str]) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace")
            if line.startswith(_OWN_LINES):
                held.append(line.rstrip("\n"))
            else:
                with self._lock:
                    self.err.write(line)
                    self.err.flush()
        pipe.close()

    def say(self, line: str) -> None:
        """Prints ``line`` unless a line with the same cause was printed."""
        with self._lock:
            if _cause(line) in self._said:
                return
            self._said.add(_cause(line))
            print(line, file=self.err, flush=True)

    def ended(self, process: Any) -> None:
        """Prints what the finished ``process`` held back."""
        reader = self._readers.pop(id(process), None)
        if reader is not None:
            reader.join(timeout=10)
        for line in self._held.pop(id(process), []):
            self.say(line)


def killed_line(slot: int, process: subprocess.Popen[bytes], grace: int, others: bool) -> str:
    """The line for a worker ended by a signal it could not handle (SIGKILL, out of memory)."""
    try:
        name = signal.Signals(-process.returncode).name
    except ValueError:
        name = f"signal {-process.returncode}"
    by = "the next trial another worker starts" if others else "the next `lenet-study run`"
    return (
        f"lenet-study: error: worker {slot} (pid {process.pid}) was killed by {name}; its "
        f"running trial is failed after {grace} s of missed heartbeats and rerun with the same "
        f"parameters, by {by}"
    )
