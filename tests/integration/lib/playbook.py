"""Run ansible-playbook (Debian's, on /usr/bin/python3) and read its recap."""

import dataclasses
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Dict, Sequence

from . import env


@dataclasses.dataclass
class PlaybookRun:
    returncode: int
    seconds: float
    recap: Dict[str, Dict[str, int]]   # host -> {ok, changed, failed, ...}
    output: str
    log: Path

    def changed_tasks(self) -> str:
        """The task headers followed by a "changed:" line (for messages)."""
        out, task = [], ""
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                task = line
            elif line.startswith("changed:"):
                out.append(f"{task}\n  {line}")
        return "\n".join(out)


def run_playbook(playbook: Path, inventory: Path, log: Path,
                 extra_args: Sequence[str] = (), timeout: float = 1200) -> PlaybookRun:
    environ = dict(os.environ,
                   ANSIBLE_CONFIG=str(env.ANSIBLE_DIR / "ansible.cfg"),
                   ANSIBLE_ROLES_PATH=str(env.ANSIBLE_DIR / "roles"),
                   ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0",
                   # per-task durations in the log
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                   ANSIBLE_LOCAL_TEMP=str(log.parent / "ansible-tmp"),
                   ANSIBLE_HOME=str(log.parent / "ansible-home"),
                   PYTHONDONTWRITEBYTECODE="1")
    argv = ["/usr/bin/ansible-playbook", "-i", str(inventory), str(playbook), *extra_args]
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    # written as it runs (tail -f the log to follow a slow run)
    with open(log, "w") as f:
        f.write(f"# {' '.join(argv)}\n")
        f.flush()
        r = subprocess.run(argv, env=environ, stdout=f, stderr=subprocess.STDOUT,
                           timeout=timeout, cwd=env.ANSIBLE_DIR)
        seconds = time.monotonic() - start
        f.write(f"# {seconds:.1f} s, exit {r.returncode}\n")
    output = log.read_text()
    recap = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            m = re.match(r"^(\S+)\s*:\s*(ok=.*)$", line)
            if m:
                recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return PlaybookRun(r.returncode, seconds, recap, output, log)
