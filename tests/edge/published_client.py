"""Drives the published ``scaleout`` client (run by test_published_client.py with the
interpreter of the separate venv that holds it): every seed-004 method it has, against
Cohort's edge listener. Prints one JSON object of what each call returned."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scaleout import Scaleout  # type: ignore[import-not-found]


def wait_finished(c: Any, session_id: str, runs: int) -> dict[str, Any]:
    """Poll until the session's newest run ended (the test's timeout bounds this)."""
    while True:
        got = c.get_session(session_id)
        if len(got.get("job_ids", [])) == runs and c.session_is_finished(session_id):
            return dict(got)
        if got.get("status") == "Failed":
            return dict(got)
        time.sleep(0.5)


def main() -> None:
    url, ca, key, work = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    c = Scaleout(url, verify=ca, token=key)
    out: dict[str, Any] = {
        "controller": c.get_controller_status(),
        "active_clients": c.get_active_clients(),
        "clients_count": c.get_clients_count(),
        "online_count": c.get_clients_count(only_active=True),
        "client_config": c.get_client_config(),
        "combiners_count": c.get_combiners_count(),
        "packages_count": c.get_packages_count(),
        "active_package": c.get_active_package(),
        "package_checksum": c.get_package_checksum(),
    }
    seed = work / "seed.npz"
    np.savez(seed, w=np.zeros((30, 2), np.float32), b=np.zeros(2, np.float32))  # breast cancer
    out["seed"] = c.set_active_model(str(seed))
    out["active_model"] = c.get_active_model()
    started = c.start_session(name="published-1", rounds=1, min_clients=3, round_timeout=120)
    out["started"] = started
    session_id = started["session_id"]
    out["finished"] = wait_finished(c, session_id, 1)
    out["continued"] = c.continue_session(session_id, rounds=1, round_timeout=120)
    out["finished_again"] = wait_finished(c, session_id, 2)
    out["models_count"] = c.get_models_count()
    out["rounds_count"] = c.get_rounds_count()
    out["sessions_count"] = c.get_sessions_count()
    out["statuses"] = c.get_statuses(event_type="MODEL_UPDATE", n_max=2)
    out["statuses_count"] = c.get_statuses_count()
    out["validations_count"] = c.get_validations_count()
    out["trail"] = c.get_model_trail()
    out["validations"] = c.get_validations(session_id=session_id)
    out["session_validations_count"] = c.get_validations_count(session_id=session_id)
    package = work / "package.zip"  # written by the test: the example compute package
    out["package"] = c.set_active_package(str(package), "numpyhelper", "published-package")
    out["checksum_after"] = c.get_package_checksum()
    out["attribute"] = c.add_attributes({"key": "zone", "value": "eu", "entity_id": "site-3"})
    out["current"] = c.get_current_attributes(["site-3"])
    out["trail_attributes"] = c.get_attribute_trail("site-3")
    out["status"] = c.add_status({"type": "NETWORK", "status": "from scaleout", "sender": {}})
    out["command"] = c.run_custom_command("data_summary", synchronous=True, timeout=120)
    out["inference"] = c.start_inference(out["trail"][0]["model_id"], client_ids=["site-1"])
    cid = out["command"]["correlation_id"]
    out["command_one"] = c.get_command(cid)
    out["commands"] = c.get_commands()
    out["commands_count"] = c.get_commands_count()
    out["command_roots"] = c.get_commands_roots()
    out["step"] = c.step_current_command()  # refused: the error envelope
    out["stage"] = c.stage_model(out["trail"][0]["model_id"])  # refused too
    try:
        c.stop_current_command()  # nothing runs now: 409
    except RuntimeError as exc:
        out["stop"] = str(exc)
    out["validation_run"] = c.start_validation(session_id, out["trail"][0]["model_id"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
