"""brokerctl.py - run strata's Kafka broker for the real-client integration tests.

A test script starts the broker itself, on 127.0.0.1 with a port the kernel
picks, in a temporary data folder under $TMPDIR:

    from brokerctl import Broker, check, main

    def test(strata):
        with Broker(strata) as b:
            ... clients use b.bootstrap ("127.0.0.1:PORT") ...
            b.restart()          # SIGTERM, then start again on the same data
            b.kill9(); b.start() # crash, then start again on the same data
            b.stop()             # SIGTERM; fails unless the broker exits 0

    if __name__ == "__main__":
        main(test)               # argv[1] = path of the strata binary

main() turns any exception into a FAIL line, the traceback and the tail of
every broker's stderr and stdout, and exit status 1; success is status 0.

The broker is always stopped, even when the test fails: by the context
manager, by main()'s finally, by atexit, and, should the test process itself
be killed (a CTest timeout), by PR_SET_PDEATHSIG, which sends the broker
SIGTERM when the thread that started it dies. Start brokers from the main
thread for that reason.

Run as a program, it wraps a command with a broker (used for the C client):

    brokerctl.py STRATA [--default-partitions N] -- CMD ARG... 

"{bootstrap}" in the arguments is replaced by the broker's address, which is
also in $STRATA_BOOTSTRAP. The exit status is the command's, or 1 if the
broker failed to start or to stop cleanly.

Set STRATA_KEEP_TMP=1 to keep the data folders and logs of a failed run.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

START_TIMEOUT_S = 60  # liveness bound for "listening on" (ASan builds are slow)
STOP_TIMEOUT_S = 60  # liveness bound for exit after SIGTERM
LOG_TAIL_BYTES = 6000

LISTEN_RE = re.compile(rb"^strata broker listening on 127\.0\.0\.1:(\d+)\n", re.M)

_brokers = []  # every Broker created, for cleanup and for failure reports


class TestFailure(Exception):
    """An assertion of the test failed; the message says what was expected."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def wait_until(pred, timeout_s, what, interval_s=0.05):
    """Polls pred() until it is truthy; fails naming `what` after timeout_s.

    The timeout bounds liveness only: no test asserts how long anything takes.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("gave up after %ss waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)


def _pdeathsig():
    # Runs in the child between fork and exec: SIGTERM the broker if we die.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Broker:
    """One strata broker and its data folder; start/stop/kill9 reuse the folder."""

    def __init__(self, strata, default_partitions=None, extra_args=(), name="broker"):
        self.strata = os.path.abspath(strata)
        check(os.access(self.strata, os.X_OK), "%s is not an executable" % self.strata)
        self.name = name
        self.default_partitions = default_partitions
        self.extra_args = list(extra_args)
        self.tmp = tempfile.mkdtemp(prefix="strata-kafka-%s-" % name)
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.port = None
        self.runs = 0
        self.closed = False
        _brokers.append(self)

    # --- lifecycle ---------------------------------------------------------

    @property
    def bootstrap(self):
        check(self.port is not None, "%s is not running" % self.name)
        return "127.0.0.1:%d" % self.port

    def _log(self, kind, run=None):
        return os.path.join(self.tmp, "%s.%d" % (kind, run or self.runs))

    def start(self):
        """Starts the broker on the data folder and waits for its port."""
        check(self.proc is None, "%s started twice" % self.name)
        self.runs += 1
        args = [self.strata, "broker", "--listen", "127.0.0.1:0", "--data", self.data]
        if self.default_partitions is not None:
            args += ["--default-partitions", str(self.default_partitions)]
        args += self.extra_args
        with open(self._log("stdout"), "wb") as out, open(self._log("stderr"), "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         preexec_fn=_pdeathsig, close_fds=True)
        self.port = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with open(self._log("stdout"), "rb") as f:
                m = LISTEN_RE.search(f.read())
            if m:
                self.port = int(m.group(1))
                check(0 < self.port < 65536, "bad port in %r" % m.group(0))
                return self
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise TestFailure("%s exited with status %s before printing "
                                  "'strata broker listening on 127.0.0.1:PORT' (run %d: %s)"
                                  % (self.name, rc, self.runs, " ".join(args)))
            if time.monotonic() > deadline:
                self._kill_now()
                raise TestFailure("%s printed no 'listening on' line within %ss (run %d)"
                                  % (self.name, START_TIMEOUT_S, self.runs))
            time.sleep(0.02)

    def stop(self, check_clean=True):
        """SIGTERM and wait; SIGKILL if it does not exit.

        With check_clean, fails unless the broker exited 0 in time and its
        stdout held exactly the one "listening on" line.
        """
        if self.proc is None:
            return None
        proc, self.proc, self.port = self.proc, None, None
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            if check_clean:
                raise TestFailure("%s did not exit within %ss of SIGTERM; killed it"
                                  % (self.name, STOP_TIMEOUT_S))
            return None
        if check_clean:
            check(rc == 0, "%s exited with status %s after SIGTERM, expected 0 (run %d)"
                  % (self.name, rc, self.runs))
            with open(self._log("stdout"), "rb") as f:
                out = f.read()
            check(LISTEN_RE.fullmatch(out) is not None,
                  "%s stdout should be exactly one 'listening on' line, got %r"
                  % (self.name, out[:500]))
        return rc

    def kill9(self):
        """Crashes the broker: SIGKILL, no chance to flush or close anything."""
        check(self.proc is not None, "%s is not running" % self.name)
        proc, self.proc, self.port = self.proc, None, None
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def restart(self):
        """Clean stop, then start again on the same data folder (new port)."""
        self.stop()
        return self.start()

    def _kill_now(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.port = None

    def close(self, keep=False):
        """Stops the broker however it must and removes the temporary folder."""
        if self.closed:
            return
        if self.proc is not None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(10)
            except Exception:
                pass
            self._kill_now()
        self.closed = True
        if keep or os.environ.get("STRATA_KEEP_TMP"):
            sys.stderr.write("brokerctl: kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.stop()
            finally:
                self.close()
        else:
            # Keep the logs for main()'s report; close() happens there/atexit.
            if self.proc is not None:
                try:
                    self.stop(check_clean=False)
                except Exception:
                    self._kill_now()
        return False

    # --- reporting ---------------------------------------------------------

    def dump_logs(self, stream=sys.stderr):
        for run in range(1, self.runs + 1):
            for kind in ("stderr", "stdout"):
                path = self._log(kind, run)
                try:
                    with open(path, "rb") as f:
                        f.seek(0, os.SEEK_END)
                        size = f.tell()
                        f.seek(max(0, size - LOG_TAIL_BYTES))
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    continue
                cut = " (last %d bytes)" % LOG_TAIL_BYTES if size > LOG_TAIL_BYTES else ""
                stream.write("----- %s run %d %s%s -----\n%s\n" % (self.name, run, kind, cut, text))
        stream.flush()


def _close_all(keep=False):
    for b in _brokers:
        try:
            b.close(keep=keep)
        except Exception:
            pass


atexit.register(_close_all)


def strata_path(argv=None):
    argv = sys.argv if argv is None else argv
    path = argv[1] if len(argv) > 1 else os.environ.get("STRATA_BIN")
    if not path:
        sys.stderr.write("usage: %s /path/to/strata (or set STRATA_BIN)\n" % argv[0])
        sys.exit(2)
    return path


def main(test):
    """Runs test(strata_path) and exits 0 on success, 1 with a report on failure."""
    name = os.path.basename(sys.argv[0])
    strata = strata_path()
    ok = False
    try:
        test(strata)
        ok = True
    except TestFailure as e:
        sys.stderr.write("FAIL: %s: %s\n" % (name, e))
        traceback.print_exc()
    except BaseException as e:  # client errors, KeyboardInterrupt, ...
        sys.stderr.write("FAIL: %s: %s: %s\n" % (name, type(e).__name__, e))
        traceback.print_exc()
    finally:
        if not ok:
            for b in _brokers:
                b.dump_logs()
        _close_all(keep=not ok and bool(os.environ.get("STRATA_KEEP_TMP")))
    if ok:
        print("PASS: %s" % name)
        sys.stdout.flush()
        os._exit(0)  # skip client-library destructors that may block at exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _run_command(argv):
    """brokerctl.py STRATA [--default-partitions N] -- CMD ARG..."""
    if "--" not in argv:
        sys.stderr.write("usage: brokerctl.py STRATA [--default-partitions N] -- CMD ARG...\n")
        return 2
    i = argv.index("--")
    opts, cmd = argv[1:i], argv[i + 1:]
    if not opts or not cmd:
        sys.stderr.write("usage: brokerctl.py STRATA [--default-partitions N] -- CMD ARG...\n")
        return 2
    parts = None
    if len(opts) == 3 and opts[1] == "--default-partitions":
        parts = int(opts[2])
    elif len(opts) != 1:
        sys.stderr.write("brokerctl.py: unexpected options %r\n" % opts[1:])
        return 2
    b = Broker(opts[0], default_partitions=parts, name=os.path.basename(cmd[0]))
    rc = 1
    try:
        b.start()
        env = dict(os.environ, STRATA_BOOTSTRAP=b.bootstrap)
        rc = subprocess.call([a.replace("{bootstrap}", b.bootstrap) for a in cmd], env=env)
        if rc != 0:
            sys.stderr.write("FAIL: %s exited with status %d\n" % (" ".join(cmd), rc))
        b.stop()
    except TestFailure as e:
        sys.stderr.write("FAIL: %s\n" % e)
        rc = rc or 1
    finally:
        if rc != 0:
            b.dump_logs()
        b.close()
    if rc == 0:
        print("PASS: %s" % " ".join(cmd))
    return rc


if __name__ == "__main__":
    sys.exit(_run_command(sys.argv))
