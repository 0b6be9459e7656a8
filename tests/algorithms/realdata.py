"""Job folders around ``realjob/train.py`` (softmax regression on breast cancer / wine)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "realjob" / "train.py"


def real_job(folder: Path, workflow: str, args: dict[str, Any], script_args: list[str]) -> Path:
    """A job running ``workflow`` with ``args``; sites run train.py with ``script_args``."""
    config = folder / "app" / "config"
    config.mkdir(parents=True)
    (folder / "app" / "custom").mkdir()
    shutil.copy2(SCRIPT, folder / "app" / "custom" / "train.py")
    meta = {"name": f"{workflow}-real", "deploy_map": {"app": ["@ALL"]}, "min_clients": 2}
    (folder / "meta.json").write_text(json.dumps(meta))
    server = {"workflow": workflow, "args": {"task_timeout": 120.0, **args}}
    (config / "config_fed_server.json").write_text(json.dumps(server))
    client = {"script": "custom/train.py", "args": script_args}
    (config / "config_fed_client.json").write_text(json.dumps(client))
    return folder
