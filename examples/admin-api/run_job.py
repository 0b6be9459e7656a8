"""A script written against the session API spec (seeds 000/001), run against Cohort.

Only the import line differs from a script written for the spec's reference implementation.

    python examples/admin-api/run_job.py ADMIN_KIT_DIR [JOB_FOLDER]

``ADMIN_KIT_DIR`` is the admin startup kit (``cohort poc prepare`` prints where it is); the
job defaults to ``examples/hello-numpy/job``. It prints the system info, submits the job,
monitors it with a callback, prints its final status and downloads its result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cohort.admin import Session, new_secure_session

HERE = Path(__file__).resolve().parent
DEFAULT_JOB = HERE.parent / "hello-numpy" / "job"


def sample_cb(
    session: Session, job_id: str, job_meta: dict[str, Any], *cb_args: Any, **cb_kwargs: Any
) -> bool:
    """Print the job's meta for the first polls while it runs; always keep monitoring."""
    if job_meta["status"] == "RUNNING":
        if cb_kwargs["cb_run_counter"]["count"] < 3:
            print(".", end="")
        print("\n" + str(job_meta))
    cb_kwargs["cb_run_counter"]["count"] += 1
    return True


def main(kit: str, job: str) -> int:
    """Run the spec's example flow; return 0 when the job finished OK."""
    username = Path(kit).name  # an admin kit's folder is named after its admin
    sess = new_secure_session(username, kit)
    try:
        print(sess.get_system_info())
        job_id = sess.submit_job(job)
        print(job_id + " was submitted")
        counter = {"count": 0}
        rc = sess.monitor_job(job_id, poll_interval=1.0, cb=sample_cb, cb_run_counter=counter)
        print(f"monitor_job returned {rc!r} after {counter['count']} polls")
        status = sess.get_job_meta(job_id)["status"]
        print("status:", status)
        path = sess.download_job_result(job_id)
        print("result:", path)
        return 0 if status == "FINISHED_OK" else 1
    finally:
        sess.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else str(DEFAULT_JOB)))
