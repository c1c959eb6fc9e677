#!/usr/bin/env python3
"""The soak: the platform as separate processes (the API and every worker) under the fault run's
load driver at a fixed rate for SOAK_SECONDS, with nothing killed. Every 10 s it samples what
would show a leak: each process's RSS and open file descriptors, the TCP connections to MongoDB,
Redis and the broker (counted in /proc/net/tcp, so the servers' own bookkeeping does not matter),
and the sum of the consumer groups' lag. After the warm-up the figures must stay flat:

- RSS: each process's mean over the last minute is within 10 % (or 8 MiB) of its mean over the
  minute after the warm-up;
- descriptors and connections: once idle after the drain, at most the warm-up minute's maximum
  plus a small allowance (pools are bounded; a leak stays when the load is gone);
- lag: the last minute's maximum is at most twice the warm-up minute's (or 20 records), and it
  drains to zero when the load stops.

Then the fault run's checks: every effect the API confirmed is there exactly once. The samples go
to artifacts/soak-<run>.json. Started by scripts/soak.sh; exit 1 when a check fails.
"""
import json
import os
import statistics
import sys
import threading
import time

import fault_run as run

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = float(os.environ.get("SOAK_WARMUP", "120"))
INTERVAL = float(os.environ.get("SOAK_INTERVAL", "10"))
SERVER_PORTS = {"mongodb": int(os.environ["MONGO_PORT"]), "redis": int(os.environ["REDIS_PORT"]), "kafka": int(os.environ["KAFKA_PORT"])}
ARTIFACTS = os.path.join(run.ROOT, "artifacts")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def established_to(ports):
    """Established TCP connections whose remote end is each port (the clients' side of the loopback)."""
    counts = {port: 0 for port in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port, state = int(fields[2].rsplit(":", 1)[1], 16), fields[3]
            if state == "01" and remote_port in counts:
                counts[remote_port] += 1
    return counts


def sample(platform, started):
    with platform.lock:
        processes = {name: process.pid for name, process in platform.processes.items()}
    rss, fds = {}, {}
    for name, pid in processes.items():
        try:
            rss[name], fds[name] = round(rss_mib(pid), 1), descriptors(pid)
        except OSError:  # exited between the listing and the read: the watcher restarts it
            continue
    connections = established_to(SERVER_PORTS.values())
    calls = run.JOURNAL.calls
    return {"t": round(time.time() - started, 1), "rss": rss, "fds": fds,
            "connections": {server: connections[port] for server, port in SERVER_PORTS.items()},
            "lag": run.consumer_lag(platform), "calls": len(calls),
            "ok": sum(1 for _, _, status, _, _ in calls if 200 <= status < 300)}


def window(samples, start, end):
    return [s for s in samples if start <= s["t"] < end]


def flatness(samples, idle):
    """The checks on the sampled figures: (condition, text) pairs. Descriptors and connections
    are judged on `idle`, a sample taken after the drain: under load the API holds a socket per
    call in flight, and a backlog of slow answers raised its count by 30 in the first soak's last
    minute; a leak stays once the load is gone."""
    end = samples[-1]["t"]
    early, late = window(samples, WARMUP, WARMUP + 60), window(samples, end - 60, end + 1)
    if not early or not late:
        return [(False, f"too few samples after the warm-up ({len(samples)} over {end:.0f} s)")]
    checks = []
    grew = []
    for name in sorted(early[0]["rss"]):
        before = statistics.mean(s["rss"][name] for s in early if name in s["rss"])
        after = statistics.mean(s["rss"][name] for s in late if name in s["rss"])
        if after - before > max(8.0, 0.10 * before):
            grew.append(f"{name} {before:.1f}→{after:.1f} MiB")
    total_before = statistics.mean(sum(s["rss"].values()) for s in early)
    total_after = statistics.mean(sum(s["rss"].values()) for s in late)
    checks.append((not grew, f"RSS flat: all processes {total_before:.0f} → {total_after:.0f} MiB"
                             + (f"; grew: {', '.join(grew)}" if grew else "")))
    fds_before = max(sum(s["fds"].values()) for s in early)
    fds_late = max(sum(s["fds"].values()) for s in late)
    fds_idle = sum(idle["fds"].values())
    checks.append((fds_idle <= fds_before + 10, f"open descriptors flat: at most {fds_before} after the warm-up, {fds_idle} idle after the drain "
                                                f"(at most {fds_late} in the last minute of load)"))
    for server in SERVER_PORTS:
        before = max(s["connections"][server] for s in early)
        after = idle["connections"][server]
        checks.append((after <= before + 5, f"{server} connections flat: at most {before} after the warm-up, {after} idle after the drain"))
    lag_before = max((s["lag"] or 0) for s in early)
    lag_after = max((s["lag"] or 0) for s in late)
    checks.append((lag_after <= max(20, 2 * lag_before), f"consumer lag does not build up: at most {lag_before:.0f} → {lag_after:.0f}"))
    return checks


def main():
    run.PREFIX = "soak"
    platform = run.Platform()
    run.log(f"run {run.DATABASE}: flows at {run.RATE}/s for {SECONDS:.0f} s, sampled every {INTERVAL:.0f} s, warm-up {WARMUP:.0f} s")
    run.subprocess.run([run.BINARY, "topics", "apply", "--directory", os.path.join(run.ROOT, "topics")], check=True, stdout=run.subprocess.DEVNULL)
    for name in ["api"] + run.WORKERS:
        platform.start(name)
    for name in ["api"] + run.WORKERS:
        if run.until(lambda: True if platform.ready(name) == 200 else None, 90, 0.2) is None:
            run.log(f"{name} did not become ready; its log: {run.RUN_DIR}/process-{name}.log")
            platform.stop()
            return 1
    threading.Thread(target=platform.watch, daemon=True).start()

    admin_email = f"admin-{run.DATABASE}@example.com"
    admin = run.platform_api.admin_token(run.BASE, run.BINARY, admin_email, os.environ)
    category = f"plumbing-{run.DATABASE}"
    assert run.http("POST", "/v1/categories", {"slug": category, "name": "Plumbing"}, admin)[0] == 201
    load = run.Load(admin, category, admin_email)
    threading.Thread(target=load.run, daemon=True).start()

    started, samples = time.time(), []
    run.log("   t  RSS MiB  fds  mongo redis kafka   lag  calls   2xx")
    while time.time() - started < SECONDS:
        time.sleep(INTERVAL - (time.time() - started) % INTERVAL)
        s = sample(platform, started)
        samples.append(s)
        c = s["connections"]
        run.log(f"{s['t']:4.0f} {sum(s['rss'].values()):8.1f} {sum(s['fds'].values()):4d}  {c['mongodb']:5d} {c['redis']:5d} {c['kafka']:5d} "
                f"{s['lag'] if s['lag'] is not None else -1:5.0f} {s['calls']:6d} {s['ok']:5d}")
    load.running = False
    run.log("load stopped; waiting for the flows in flight")
    deadline = time.time() + 300
    while load.pending_flows() and time.time() < deadline:
        time.sleep(2)
    drained = run.drain(platform)
    run.log(f"drained in {drained:.0f} s" if drained is not None else "NOT drained after 300 s (outbox or consumer lag left)")

    idle = sample(platform, started)
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"soak-{run.DATABASE}.json")
    with open(path, "w") as out:
        json.dump({"rate": run.RATE, "seconds": SECONDS, "warmup": WARMUP, "samples": samples, "idle": idle}, out)
    run.log(f"samples in {path}")
    failures = []
    for condition, text in flatness(samples, idle) + [(drained is not None, "the outbox and every consumer group drained")]:
        run.log(("ok   " if condition else "FAIL ") + text)
        if not condition:
            failures.append(text)
    last = samples[-1]
    per_process = ", ".join(f"{name} {last['rss'][name]:.0f}" for name in sorted(last["rss"], key=lambda n: -last["rss"][n])[:5])
    run.log(f"largest RSS at the end (MiB): {per_process}")
    failures += run.check(platform, load, [], [])
    platform.stop()
    run.log(f"{len(failures)} checks failed" if failures else "every check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
