"""The supervisor behind `zhongshu up` with small real child processes: a child that dies is started
again (backoff, a log line each time) while the others run on; one that keeps dying is given up on,
and said so; Ctrl-C still stops everything. tests/test_stack.py does the same with the real stack."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from zhongshu_devtools.supervisor import Child, RestartPolicy, Supervisor, exit_text

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")


def sleeper(tag: str) -> list[str]:
    return [sys.executable, "-c", f"import time; print('{tag} up', flush=True); time.sleep(600)"]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def eventually(pred, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"{what} not met in {timeout} s"
        time.sleep(0.05)


def test_restart_policy_backs_off_exponentially_up_to_the_cap():
    p = RestartPolicy()
    assert [p.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert RestartPolicy(initial=0.5, factor=3, cap=10).delay(3) == 4.5
    assert exit_text(-signal.SIGKILL) == "SIGKILL" and exit_text(3) == "code 3"


def test_a_killed_child_is_started_again_and_the_others_keep_running(tmp_path):
    out = io.StringIO()
    sup = Supervisor(tmp_path / "logs", restart=RestartPolicy(initial=0.2, cap=1), out=out)
    a, b = Child("a", sleeper("a"), ready_log="a up"), Child("b", sleeper("b"), ready_log="b up")
    pids: set[int] = set()
    try:
        for c in (a, b):
            sup.start(c, timeout=30)
        sup.supervise(interval=0.05)
        first_a, first_b = a.proc.pid, b.proc.pid
        pids |= {first_a, first_b}
        os.kill(first_a, signal.SIGKILL)
        eventually(lambda: "a is ready again" in out.getvalue(), what="a restarted and ready")
        pids.add(a.proc.pid)
        assert a.proc.pid != first_a and a.running and a.restarts == 1
        assert b.proc.pid == first_b and b.running and b.restarts == 0  # the others are left alone
        text = out.getvalue()
        assert "a exited (SIGKILL)" in text and "starting it again in 0.2 s" in text
        assert f"a started again (restart 1, pid {a.proc.pid})" in text
        log = (tmp_path / "logs" / "a.log").read_text()
        assert log.count("\na up\n") == 2 and "(restart 1)" in log  # one log, both runs

        os.kill(a.proc.pid, signal.SIGKILL)  # again soon after: the pause doubles
        eventually(lambda: a.restarts == 2 and a.running, what="second restart")
        pids.add(a.proc.pid)
        assert "starting it again in 0.4 s (quick deaths in a row: 2" in out.getvalue()
    finally:
        sup.stop(grace=5)
    assert not [p for p in pids if alive(p)]


def test_a_child_that_keeps_dying_is_given_up_on_and_said_so(tmp_path):
    out = io.StringIO()
    sup = Supervisor(tmp_path / "logs", restart=RestartPolicy(initial=0.05, factor=2, cap=0.2, give_up_after=4), out=out)
    crash = sup.launch(Child("crash", [sys.executable, "-c", "import sys; print('boom: no config', flush=True); sys.exit(3)"]))
    steady = Child("steady", sleeper("steady"), ready_log="steady up")
    sup.start(steady, timeout=30)
    try:
        assert sup.wait() == 1  # returns once it gives up: the caller stops the stack
        assert sup.gave_up is crash and crash.restarts == 3 and steady.running
        text = out.getvalue()
        assert [line.split("starting it again in ")[1].split(" s")[0] for line in text.splitlines()
                if "starting it again in" in line] == ["0.05", "0.1", "0.2"]
        assert "crash exited (code 3)" in text and "4 times in a row soon after starting; giving up on it" in text
        assert "boom: no config" in text  # the end of its log, to see why
    finally:
        sup.stop(grace=5)
    assert not steady.running


def test_a_healthy_run_starts_the_count_afresh(tmp_path):
    out = io.StringIO()
    sup = Supervisor(tmp_path / "logs", restart=RestartPolicy(initial=0.05, healthy_after=0.3, give_up_after=2), out=out)
    flaky = sup.launch(Child("flaky", [sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(1)"]))
    try:
        sup.supervise(interval=0.05)
        eventually(lambda: flaky.restarts >= 3, what="three restarts")
        assert sup.gave_up is None and flaky.failures == 1  # every run lasted longer than healthy_after
    finally:
        sup.stop(grace=5)


SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from zhongshu_devtools.supervisor import Child, RestartPolicy, Supervisor

    sup = Supervisor(Path(sys.argv[1]), restart=RestartPolicy(initial=0.2))
    with sup.stop_signals_interrupt():
        for tag in ("a", "b"):
            c = Child(tag, [sys.executable, "-c", f"import time; print('{tag} up', flush=True); time.sleep(600)"],
                      ready_log=f"{tag} up")
            sup.start(c, timeout=30)
            print(f"pid {tag} {c.proc.pid}", flush=True)
        print("supervising", flush=True)
        code = sup.wait()
    killed = sup.stop(grace=5)
    print(f"stopped code={code} killed={killed}", flush=True)
""")


def test_ctrl_c_stops_every_child_also_after_a_restart(tmp_path):
    """The supervisor as its own process, with real signals: SIGKILL a child, see it back, then Ctrl-C."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "logs")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    pids: dict[str, int] = {}
    try:
        eventually(lambda: any(ln.startswith("supervising") for ln in lines), what="supervisor up")
        pids = {ln.split()[1]: int(ln.split()[2]) for ln in lines if ln.startswith("pid ")}
        os.kill(pids["a"], signal.SIGKILL)
        eventually(lambda: any("a is ready again" in ln for ln in lines), what="a restarted")
        again = next(ln for ln in lines if "a started again" in ln)
        new_a = int(again.rsplit("pid ", 1)[1].rstrip(")\n"))
        assert alive(new_a) and alive(pids["b"])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        reader.join(5)
        assert any(ln.startswith("stopped code=0 killed=[]") for ln in lines), "".join(lines)
        assert not [p for p in (new_a, pids["b"]) if alive(p)], "children left running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for p in pids.values():
            if alive(p):
                os.kill(p, signal.SIGKILL)
