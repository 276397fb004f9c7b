"""The job queue: huey over a SQLite file in the data directory (durable across restarts).

`create_huey` is the one place the storage is chosen, so a networked store (RedisHuey behind a
`MOUNTIE_QUEUE_URL`) can be added there. The receiver and the worker each build their own huey
object over the same file and register the same task (`bot.jobs.tasks`), so the receiver can put
messages the worker understands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from huey import SqliteHuey

from bot.jobs.model import Job

QUEUE_NAME = "mountie"
QUEUE_FILE = "queue.db"


def create_huey(data_dir: Path) -> Any:
    """The queue for this data directory (huey is untyped, hence Any)."""
    # No result store: nothing reads task results, and they would only grow the file.
    return SqliteHuey(QUEUE_NAME, filename=str(data_dir / QUEUE_FILE), results=False, utc=True)


class JobQueue(Protocol):
    """What the receiver needs from the queue."""

    def enqueue(self, job: Job) -> None: ...

    def depth(self) -> dict[str, int]: ...


class HueyJobQueue:
    """Jobs as huey messages: the task's single argument is `Job.to_dict()` (plain data)."""

    def __init__(self, huey: Any, task: Any) -> None:
        self.huey = huey
        self._task = task

    def enqueue(self, job: Job) -> None:
        self._task(job.to_dict())

    def depth(self) -> dict[str, int]:
        """Jobs waiting to run now, and jobs scheduled for a later retry."""
        return {"pending": int(self.huey.pending_count()), "scheduled": int(self.huey.scheduled_count())}

    def pending_jobs(self) -> list[Job]:
        """The jobs waiting, oldest first (for tests and inspection)."""
        return [Job.from_dict(task.args[0]) for task in self.huey.pending()]
