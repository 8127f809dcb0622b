#!/usr/bin/env python3
"""Round trips and durable commits per file-system operation on a replfs mount.

  rpc_per_op.py MOUNT CLIENT_LOG CLIENT_PID [--metad-pid PID] [--datad-pid PID ...] [-n N]

For each kind of operation (create, stat, small-file write/read, `echo x > f`,
mkdir, rmdir, unlink, readdir, sequential and 4k random I/O) it runs N of
them in a fresh directory under MOUNT and reports the mean wall time per
operation and the RPCs the client sent per operation, by method. The counts
come from the client itself: `kill -USR1 CLIENT_PID` makes it log
"rpc: metad total N: Method=k ...; datads total M: ..." to CLIENT_LOG (its
stderr when run with -f), read before and after each phase. With
--metad-pid (and --datad-pid) it also counts fsync/fdatasync/msync calls
and their wall time per operation with `strace -f -c -w` attached to those
daemons during each phase (strace slows them down: the times in that mode
are not the benchmark's).

Start a cluster to profile with `scripts/bench --hold` (it prints the
mounts, the client log and every PID). Needs root for dropping caches.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

LINE = re.compile(r"rpc: metad total (\d+):([^;]*); datads total (\d+):(.*)$")


def counters(log, pid, timeout=5.0):
    """Asks the client for its counters; returns ({metad method: n}, {datad method: n})."""
    with open(log, "rb") as f:
        f.seek(0, os.SEEK_END)
        start = f.tell()
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(start)
            for line in f.read().decode(errors="replace").splitlines():
                m = LINE.search(line)
                if m and "SIGUSR1" in line:
                    parse = lambda s: {k: int(v) for k, v in (kv.split("=") for kv in s.split())}
                    return parse(m.group(2)), parse(m.group(4))
        time.sleep(0.02)
    raise SystemExit(f"no 'rpc:' line in {log} within {timeout} s of SIGUSR1 to {pid}")


def diff(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if b.get(k, 0) != a.get(k, 0)}


def traced(pid):
    """True when every thread of `pid` has a tracer (strace attached)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                if any(l.startswith("TracerPid:") and l.split()[1] == "0" for l in f):
                    return False
    except FileNotFoundError:
        return True  # the process (or a thread) is gone: nothing left to wait for
    return True


class SyncCounter:
    """strace -c -w of the daemons' sync calls while a phase runs."""

    def __init__(self, pids):
        self.pids, self.procs = pids, []

    def __enter__(self):
        self.files = []
        for pid in self.pids:
            out = tempfile.NamedTemporaryFile(prefix=f"strace-{pid}-", delete=False).name
            self.files.append(out)
            self.procs.append(subprocess.Popen(
                ["strace", "-f", "-c", "-w", "-e", "trace=fsync,fdatasync,msync,sync_file_range",
                 "-o", out, "-p", str(pid)], stderr=subprocess.DEVNULL))
        # Count nothing before strace traces every thread of every daemon.
        deadline = time.monotonic() + 10
        while not all(traced(pid) for pid in self.pids):
            if time.monotonic() > deadline:
                raise SystemExit(f"strace did not attach to {self.pids} within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.send_signal(signal.SIGINT)
            p.wait(10)
        self.result = []
        for out in self.files:
            calls, secs = 0, 0.0
            for line in open(out):
                parts = line.split()
                if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync", "msync", "sync_file_range"):
                    calls += int(parts[3])
                    secs += float(parts[1])
            self.result.append((calls, secs))
            os.unlink(out)


def drop_caches():
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def phases(d, n, metad_calls):
    """(name, setup, op(i), count) in the order they run; each works in d.
    metad_calls() is the client's count of metad Lookup+GetAttr RPCs so far."""
    J = os.path.join
    buf4k = os.urandom(4096)

    def create(i):
        os.close(os.open(J(d, "c%d" % i), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))

    def smallw(i):
        fd = os.open(J(d, "s%d" % i), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, buf4k)
        os.close(fd)

    def smallr(i):
        fd = os.open(J(d, "s%d" % i), os.O_RDONLY)
        os.read(fd, 8192)
        os.close(fd)

    def echo(i):  # what bash does for `echo x > f`
        fd = os.open(J(d, "e%d" % i), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, b"x\n")
        os.close(fd)

    def seqw(_):
        fd = os.open(J(d, "seq"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        mb = os.urandom(1 << 20)
        for _ in range(64):
            os.write(fd, mb)
        os.fsync(fd)
        os.close(fd)

    def seqr(_):
        fd = os.open(J(d, "seq"), os.O_RDONLY)
        while os.read(fd, 1 << 20):
            pass
        os.close(fd)

    def randr(i):
        os.preadv(rfd[0], [mm], (i * 7919 % 16384) * 4096)

    def randw(i):
        os.pwritev(rfd[0], [mm], (i * 7919 % 16384) * 4096)

    rfd = [None]
    import mmap
    mm = mmap.mmap(-1, 4096)  # page-aligned buffer for O_DIRECT

    def open_rand():
        f = J(d, "rand")
        with open(f, "wb") as w:
            for _ in range(64):
                w.write(os.urandom(1 << 20))
        drop_caches()
        try:
            rfd[0] = os.open(f, os.O_RDWR | os.O_DIRECT)
        except OSError:
            rfd[0] = os.open(f, os.O_RDWR)

    def wait_attrs(timeout=10.0):
        """Until the kernel's cached attributes of the c* files expired: a
        probe made after them is stat'ed until that stat reaches metad
        (entry and attribute timeouts are the same for every file)."""
        probe = J(d, "attr-probe")
        os.close(os.open(probe, os.O_CREAT | os.O_WRONLY, 0o644))
        os.stat(probe)
        deadline = time.monotonic() + timeout
        while True:
            before = metad_calls()
            os.stat(probe)
            if metad_calls() > before:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"attributes still cached {timeout} s after the creates")
            time.sleep(0.05)  # poll interval
    return [
        ("create", None, create, n),
        ("stat (cached attrs)", None, lambda i: os.stat(J(d, "c%d" % i)), n),
        ("stat (attrs expired)", wait_attrs, lambda i: os.stat(J(d, "c%d" % i)), n),
        ("unlink", None, lambda i: os.unlink(J(d, "c%d" % i)), n),
        ("echo x > f", None, echo, n),
        ("smallfile write 4k", None, smallw, n),
        ("smallfile read 4k (cold)", drop_caches, smallr, n),
        ("mkdir", None, lambda i: os.mkdir(J(d, "d%d" % i)), n),
        ("rmdir", None, lambda i: os.rmdir(J(d, "d%d" % i)), n),
        ("readdir+stat all (ls -l)", drop_caches,
         lambda i: [os.lstat(J(d, x)) for x in os.listdir(d)], 1),
        ("seq write 64 MiB + fsync", None, seqw, 1),
        ("seq read 64 MiB (cold)", drop_caches, seqr, 1),
        ("4k random read O_DIRECT", open_rand, randr, 4 * n),
        ("4k random write O_DIRECT", None, randw, 4 * n),
    ]


def fmt(d, per):
    return " ".join(f"{k}={v / per:.2f}" for k, v in sorted(d.items())) or "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mount")
    ap.add_argument("client_log")
    ap.add_argument("client_pid", type=int)
    ap.add_argument("--metad-pid", type=int)
    ap.add_argument("--datad-pid", type=int, action="append", default=[])
    ap.add_argument("-n", type=int, default=50)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="rpc-per-op.", dir=args.mount)
    pids = ([args.metad_pid] if args.metad_pid else []) + args.datad_pid
    print(f"# {args.n} ops per phase in {d}; per operation: wall time, client RPCs by method"
          + (", fsync+msync calls (ms) in metad" + (" / datads" if args.datad_pid else "") if pids else ""))
    try:
        # Lookups and GetAttrs only: the client's background Opens/Releases
        # (open-hold renewal) must not count as a stat that reached metad.
        metad_calls = lambda: sum(v for k, v in counters(args.client_log, args.client_pid)[0].items()
                                  if k in ("Lookup", "GetAttr"))
        for name, setup, op, count in phases(d, args.n, metad_calls):
            if setup:
                setup()
            before = counters(args.client_log, args.client_pid)
            with SyncCounter(pids) as sc:
                t0 = time.perf_counter()
                for i in range(count):
                    op(i)
                dt = time.perf_counter() - t0
            after = counters(args.client_log, args.client_pid)
            m, dd = diff(before[0], after[0]), diff(before[1], after[1])
            line = f"{name:<26} {dt / count * 1e6:>10.0f} us | metad {fmt(m, count)} | datad {fmt(dd, count)}"
            if pids:
                line += " | syncs " + " / ".join(f"{c / count:.1f} ({s / count * 1e3:.1f} ms)" for c, s in sc.result)
            print(line, flush=True)
    finally:
        subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
