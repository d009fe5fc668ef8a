"""A warm interpreter for running the scripts as their own processes without paying ~4 s of imports
(torch, Lightning, Hydra) each time: it imports them once, runs no tensor code, and for each request
(one JSON line on stdin) forks a child that runs scripts/<script> as `python scripts/<script> args`
would: its own process and session, argv, working directory, environment, stdout and stderr files,
exit status (written to a file, since the test is not the child's parent). Forking after these imports
is what PyTorch's own DataLoader workers do."""

from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import signal
import sys
import threading
import traceback

# What the scripts import, imported once here (the children inherit it).
for module in ("torch", "lightning", "hydra", "lyrics_rnn.cli", "lyrics_rnn.train", "lyrics_rnn.evaluate"):
    importlib.import_module(module)


def run(script: str) -> int:
    """The script as __main__; its exit status as the interpreter would set it."""
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as end:
        if end.code is None or isinstance(end.code, int):
            return end.code or 0
        print(end.code, file=sys.stderr)
        return 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1


def child(request: dict) -> None:
    """In the forked child: become the script's process, run it, exit as a process would (never returns)."""
    code = 1
    try:
        os.setsid()  # its own process group: a timeout kills it and whatever it started
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        script = request["script"]
        sys.argv = [script, *request["args"]]
        sys.path[0] = os.path.dirname(script)  # as `python scripts/x.py` sets it
        code = run(script)
        threading._shutdown()  # what a normal exit does: wait for the script's threads, then atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
    finally:
        with open(request["status"] + ".tmp", "w") as status:
            status.write(str(code))
        os.replace(request["status"] + ".tmp", request["status"])
        os._exit(code)


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the script waits for its own children
            child(request)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
