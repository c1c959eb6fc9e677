#!/usr/bin/env python3
"""The WebSocket abuse run: a bounded storm against the realtime gateway while well-behaved
clients keep receiving a provider's positions, and what it must leave behind.

The bystanders are the client of a real job (set up through the REST API and the dispatch
worker), subscribed to `location:<job>` on several connections; the job's provider publishes its
position 20 times a second with a sequence number and the send time in the data. The storm runs
at the same time, each part bounded:

- connect storms: connections that upgrade, send `connect` and go away, half with a close frame
  and half by resetting the TCP connection;
- malformed input: garbage instead of the HTTP upgrade, unmasked frames, reserved opcodes,
  oversized and fragmented control frames, continuation frames out of place, invalid UTF-8,
  a frame header announcing 2^62 bytes, a message over the size limit, JSON that is not a
  command, binary frames;
- subscribe floods: authenticated clients sending hundreds of subscribe commands at once;
- slow readers: subscribers that never read, on a second job's channel whose provider
  publishes 48 KiB positions; the gateway must cut them off (slow consumer).

The storm runs in a child process, so that the bystanders' latencies measure the gateway and
not this tool's own event loop.

Checks: the gateway process is alive and ready afterwards; every bystander stayed connected
and got at least 99% of the positions, with their delivery p50/p99 during the storm printed
beside the quiet baseline; the gateway's resident memory is back within 25% (+16 MiB) of its
baseline; its connection count is back to the bystanders' and the publisher's. Exit 1 on a
failed check. Started by scripts/ws-abuse.sh.
"""
import asyncio
import base64
import concurrent.futures
import multiprocessing
import json
import os
import random
import socket
import struct
import sys
import time
import urllib.request

import websockets.asyncio.client as ws_client

import platform_api

BASE = os.environ["ABUSE_BASE"]
WS_HOST = "127.0.0.1"
WS_PORT = int(os.environ["ABUSE_WS_PORT"])
WS_URL = f"ws://{WS_HOST}:{WS_PORT}/connection/websocket"
PID = int(os.environ["ABUSE_PID"])
BINARY = os.environ["ABUSE_BINARY"]
SCALE = float(os.environ.get("ABUSE_SCALE", "1"))  # multiplies every part of the storm
BYSTANDERS = 8
RATE = 20  # positions per second


def log(*parts):
    print(f"ws-abuse: {time.strftime('%H:%M:%S')}", *parts, flush=True)


def rss_mib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def gauge(name):
    """A gauge's value from the platform's /metrics (Prometheus text)."""
    with urllib.request.urlopen(BASE + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


# MARK: well-behaved clients (the websockets library)

class Bystander:
    def __init__(self, token, channel):
        self.token, self.channel = token, channel
        self.latencies = []   # (received at, milliseconds)
        self.seen = set()
        self.closed = None

    async def run(self, stop):
        try:
            async with ws_client.connect(WS_URL, ping_interval=None, max_size=None) as socket_:
                await socket_.send(json.dumps({"id": 1, "connect": {"token": self.token}}) + "\n" +
                                   json.dumps({"id": 2, "subscribe": {"channel": self.channel}}))
                while not stop.is_set():
                    try:
                        frame = await asyncio.wait_for(socket_.recv(), 0.5)
                    except asyncio.TimeoutError:
                        continue
                    now = time.time()
                    for line in frame.splitlines():
                        message = json.loads(line) if line.strip() else {}
                        if message == {}:
                            await socket_.send("{}")  # the protocol's pong
                            continue
                        data = message.get("push", {}).get("pub", {}).get("data")
                        if isinstance(data, dict) and "seq" in data:
                            self.seen.add(data["seq"])
                            self.latencies.append((now, (now - data["t"]) * 1000))
        except Exception as error:  # an ended connection is a failed check, not a crash of the tool
            self.closed = repr(error)
        if not stop.is_set() and self.closed is None:
            self.closed = "ended early"


async def publisher(token, channel, stop, sent):
    async with ws_client.connect(WS_URL, ping_interval=None) as socket_:
        await socket_.send(json.dumps({"id": 1, "connect": {"token": token}}))
        await socket_.recv()

        async def drain():
            async for frame in socket_:
                if frame.strip() == "{}":
                    await socket_.send("{}")
        reader = asyncio.create_task(drain())
        seq, next_at = 0, time.time()
        while not stop.is_set():
            seq += 1
            data = {"lat": 38.73, "lng": -9.14, "seq": seq, "t": time.time()}
            await socket_.send(json.dumps({"id": seq + 1, "publish": {"channel": channel, "data": data}}))
            sent.append(seq)
            next_at += 1 / RATE
            await asyncio.sleep(max(0, next_at - time.time()))
        reader.cancel()


# MARK: raw sockets for what no library would send

def upgrade_request():
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /connection/websocket HTTP/1.1\r\nHost: {WS_HOST}:{WS_PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def frame(opcode, payload, fin=True, mask=True, length=None):
    first = (0x80 if fin else 0) | opcode
    size = len(payload) if length is None else length
    header = bytes([first])
    mask_bit = 0x80 if mask else 0
    if size < 126:
        header += bytes([mask_bit | size])
    elif size < 65536:
        header += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        header += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def raw_session(payloads, upgrade=True, read=True, hold=0.0):
    """Opens a TCP connection, upgrades, writes `payloads`; returns what the server did (closed or not)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(WS_HOST, WS_PORT), 5)
    except Exception:
        return "refused"
    outcome = "open"
    try:
        if upgrade:
            writer.write(upgrade_request())
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        for payload in payloads:
            writer.write(payload)
        await writer.drain()
        if hold:
            await asyncio.sleep(hold)
        if read:
            try:
                while await asyncio.wait_for(reader.read(65536), 5):
                    pass
                outcome = "closed"
            except asyncio.TimeoutError:
                outcome = "left open"
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
        outcome = "closed"
    finally:
        writer.close()
    return outcome


MALFORMED = {
    "garbage instead of an upgrade": ([b"\x16\x03\x01\x02\x00" + os.urandom(200)], False),
    "an unmasked client frame": ([frame(0x1, b'{"id":1}', mask=False)], True),
    "a reserved opcode": ([frame(0x3, b"x")], True),
    "a control frame over 125 bytes": ([frame(0x9, b"p" * 200)], True),
    "a fragmented ping": ([frame(0x9, b"p", fin=False)], True),
    "a continuation without a start": ([frame(0x0, b"tail")], True),
    "invalid UTF-8 in a text frame": ([frame(0x1, b"\xff\xfe\xfd")], True),
    "a header announcing 2^62 bytes": ([frame(0x1, b"", length=1 << 62)[:14]], True),
    "a message over the size limit": ([frame(0x1, b'{"id":1,"connect":{"token":"' + b"a" * 100_000 + b'"}}')], True),
    "JSON that is not a command": ([frame(0x1, b"[1,2,3]"), frame(0x1, b"not json at all")], True),
    "a command before connect": ([frame(0x1, b'{"id":1,"subscribe":{"channel":"user:x"}}')], True),
    "a binary frame": ([frame(0x2, os.urandom(64))], True),
}


async def connect_storm(count, token):
    async def one(index):
        payload = frame(0x1, json.dumps({"id": 1, "connect": {"token": token}}).encode())
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(WS_HOST, WS_PORT), 5)
            writer.write(upgrade_request())
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(payload)
            await writer.drain()
            await asyncio.sleep(random.random() * 0.05)
            if index % 2:
                writer.write(frame(0x8, struct.pack("!H", 1000)))
                await writer.drain()
                writer.close()
            else:  # a reset, as when a phone loses its network
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            return True
        except Exception:
            return False
    done = 0
    for start in range(0, count, 50):
        done += sum(await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50)))))
    return done


async def subscribe_flood(token, user_id, clients, commands):
    outcomes = []

    async def one():
        burst = "\n".join(json.dumps({"id": i + 2, "subscribe": {"channel": f"user:{user_id}" if i == 0 else f"user:someone-{i}"}})
                          for i in range(commands))
        outcomes.append(await raw_session([frame(0x1, json.dumps({"id": 1, "connect": {"token": token}}).encode()),
                                           frame(0x1, burst.encode())]))
    await asyncio.gather(*(one() for _ in range(clients)))
    return outcomes


async def slow_readers(token, channel, clients, seconds):
    """Subscribers that never read, on a channel whose publisher sends 48 KiB positions 20 times a
    second for 14 s (about 13 MiB) and then stops. The gateway must not hold that backlog: it
    conflates positions (the newest replaces an unsent one) or cuts a slow consumer off (3008).
    Each reader returns (cut off, bytes it finds when it finally reads): without either, the bytes
    would be the whole backlog; with them, at most the socket buffers (4 MiB here) and the
    gateway's soft queue limit (1 MiB)."""
    async def one():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (WS_HOST, WS_PORT))
        # A small limit: asyncio stops reading the socket once 128 KiB are buffered (with a large
        # one the tool itself read everything into memory and the gateway never saw a slow reader).
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        writer.write(upgrade_request())
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(frame(0x1, (json.dumps({"id": 1, "connect": {"token": token}}) + "\n" +
                                 json.dumps({"id": 2, "subscribe": {"channel": channel}})).encode()))
        await writer.drain()
        await asyncio.sleep(seconds)  # never reading, until the publisher has stopped
        closed = False
        received = 0
        try:  # now read what is there: a server that cut the reader off ends with EOF
            while chunk := await asyncio.wait_for(reader.read(1 << 20), 1):
                received += len(chunk)
            closed = True
        except (ConnectionError, asyncio.IncompleteReadError):
            closed = True
        except asyncio.TimeoutError:
            closed = False
        writer.transport.abort()
        return closed, received
    return await asyncio.gather(*(one() for _ in range(clients)))


async def heavy_publisher(token, channel, seconds):
    """The slow readers' channel: 48 KiB positions at the bystanders' rate."""
    async with ws_client.connect(WS_URL, ping_interval=None) as socket_:
        await socket_.send(json.dumps({"id": 1, "connect": {"token": token}}))
        await socket_.recv()

        errors = []

        async def drain():
            async for frame_ in socket_:
                if frame_.strip() == "{}":
                    await socket_.send("{}")
                elif '"error"' in frame_:
                    errors.append(frame_[:200])
        reader = asyncio.create_task(drain())
        padding = "x" * 49_152
        ends = time.time() + seconds
        seq = 0
        while time.time() < ends:
            seq += 1
            await socket_.send(json.dumps({"id": seq + 1, "publish": {"channel": channel, "data": {"lat": 38.7, "lng": -9.1, "pad": padding}}}))
            await asyncio.sleep(1 / RATE)
        reader.cancel()
        if errors:
            log(f"heavy publisher: {len(errors)} of {seq} publishes refused, first: {errors[0]}")


async def storm(client, heavy):
    """Every part of the storm at once, bounded."""
    n = lambda count: max(1, int(count * SCALE))  # noqa: E731
    heavy_client, heavy_provider, heavy_job = heavy
    publishing = asyncio.create_task(heavy_publisher(heavy_provider["accessToken"], f"location:{heavy_job}", 14))
    results = await asyncio.gather(
        connect_storm(n(2000), client["accessToken"]),
        asyncio.gather(*(raw_session(payloads, upgrade=upgrade) for _ in range(n(20)) for payloads, upgrade in MALFORMED.values())),
        subscribe_flood(client["accessToken"], client["user"]["id"], n(20), 500),
        slow_readers(heavy_client["accessToken"], f"location:{heavy_job}", n(30), 16),
    )
    await publishing
    return results


def storm_process(client, heavy):
    """The storm in its own process: the bystanders' latencies then measure the gateway, not the
    tool's own event loop busy with the storm."""
    return asyncio.run(storm(client, heavy))


# MARK: the run

async def main():
    admin = platform_api.admin_token(BASE, BINARY, f"admin-abuse{os.getpid()}-{int(time.time())}@example.com", os.environ)
    client, provider, job = platform_api.assigned_job(BASE, admin, f"abuse{os.getpid()}{int(time.time())}")
    channel = f"location:{job}"
    heavy = platform_api.assigned_job(BASE, admin, f"abuseheavy{os.getpid()}{int(time.time())}")
    log(f"job {job}: {BYSTANDERS} bystanders on {channel}, positions at {RATE}/s; storm scale {SCALE}")

    stop = asyncio.Event()
    bystanders = [Bystander(client["accessToken"], channel) for _ in range(BYSTANDERS)]
    tasks = [asyncio.create_task(b.run(stop)) for b in bystanders]
    sent = []
    tasks.append(asyncio.create_task(publisher(provider["accessToken"], channel, stop, sent)))
    await asyncio.sleep(3)
    connections_quiet = gauge("realtime_connections")
    baseline_rss = rss_mib()
    quiet_started = time.time()
    await asyncio.sleep(10)
    quiet_ended = time.time()
    log(f"quiet: RSS {baseline_rss:.1f} MiB, {connections_quiet:.0f} connections")

    storm_started = time.time()
    failures = []
    n = lambda count: max(1, int(count * SCALE))  # noqa: E731
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        storm_results = await asyncio.get_running_loop().run_in_executor(pool, storm_process, client, heavy)
    storm_ended = time.time()
    peak_rss = rss_mib()
    connected, malformed, floods, slow = storm_results
    log(f"storm {storm_ended - storm_started:.1f} s: {connected} connect/leave cycles, {len(malformed)} malformed sessions "
        f"({sum(1 for o in malformed if o == 'closed')} closed by the server, {sum(1 for o in malformed if o == 'left open')} left open), "
        f"{len(floods)} subscribe floods ({floods.count('closed')} closed), {len(slow)} slow readers "
        f"({sum(1 for cut, _ in slow if cut)} cut off, at most {max(size for _, size in slow) / 1048576:.1f} MiB waiting for one)")
    await asyncio.sleep(15)
    settled_rss = rss_mib()
    connections_after = gauge("realtime_connections")
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    def expect(condition, text):
        log(("ok   " if condition else "FAIL ") + text)
        if not condition:
            failures.append(text)

    alive = os.path.exists(f"/proc/{PID}")
    expect(alive, "the gateway process is alive")
    expect(platform_api.call(BASE, "GET", "/health/ready", timeout=5).status == 200, "the platform is ready")
    left_open = [name for (name, _), outcome in zip(list(MALFORMED.items()) * n(20), malformed) if outcome == "left open"]
    expect(not left_open, f"every malformed session was closed by the server ({sorted(set(left_open))})")
    expect(floods.count("closed") == len(floods), f"subscribe floods are cut off ({floods.count('closed')} of {len(floods)})")
    backlog = max(size for _, size in slow)
    expect(all(cut or size <= 6 * 1048576 for cut, size in slow),
           f"slow readers hold no backlog: cut off or conflated (at most {backlog / 1048576:.1f} MiB of ~13 MiB published waited for one)")
    quiet = [ms for b in bystanders for t, ms in b.latencies if quiet_started <= t < quiet_ended]
    stormy = [ms for b in bystanders for t, ms in b.latencies if storm_started <= t < storm_ended]
    log(f"bystander delivery: quiet p50 {percentile(quiet, .5):.1f} ms p99 {percentile(quiet, .99):.1f} ms ({len(quiet)}); "
        f"storm p50 {percentile(stormy, .5):.1f} ms p99 {percentile(stormy, .99):.1f} ms ({len(stormy)})")
    expect(all(b.closed is None for b in bystanders), f"every bystander stayed connected ({[b.closed for b in bystanders if b.closed]})")
    expected = set(sent[:-RATE])  # the last second may still be in flight
    worst = min(len(b.seen & expected) / max(1, len(expected)) for b in bystanders)
    expect(worst >= 0.99, f"every bystander got at least 99% of {len(expected)} positions (worst {worst:.2%})")
    expect(settled_rss <= baseline_rss * 1.25 + 16,
           f"memory back to baseline: {baseline_rss:.1f} MiB quiet, {peak_rss:.1f} MiB after the storm, {settled_rss:.1f} MiB 15 s later")
    expect(connections_after is not None and connections_after <= connections_quiet,
           f"connections back to the quiet count ({connections_quiet:.0f} → {connections_after})")
    log(f"{len(failures)} checks failed" if failures else "every check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
