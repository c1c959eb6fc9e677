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
- slow readers: authenticated clients that ask for history over and over and never read.

Checks: the gateway process is alive and ready afterwards; every bystander stayed connected
and got at least 99% of the positions, with their delivery p50/p99 during the storm printed
beside the quiet baseline; the gateway's resident memory is back within 25% (+16 MiB) of its
baseline; its connection count is back to the bystanders' and the publisher's. Exit 1 on a
failed check. Started by scripts/ws-abuse.sh.
"""
import asyncio
import base64
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


async def slow_readers(token, channel, clients, requests):
    """History over and over on a socket that is never read: the gateway must drop or pause these."""
    async def one():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (WS_HOST, WS_PORT))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(upgrade_request())
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(frame(0x1, json.dumps({"id": 1, "connect": {"token": token}}).encode()))
        closed = False
        for index in range(requests):
            try:
                writer.write(frame(0x1, json.dumps({"id": index + 2, "history": {"channel": channel, "limit": 100}}).encode()))
                await asyncio.wait_for(writer.drain(), 0.5)
            except (ConnectionError, asyncio.TimeoutError):
                closed = True
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(8)  # never reading: the server's queue for it fills
        try:
            writer.write(frame(0x1, b'{"id":99999,"presence_stats":{"channel":"x"}}'))
            await asyncio.wait_for(writer.drain(), 2)
        except (ConnectionError, asyncio.TimeoutError):
            closed = True
        writer.transport.abort()
        return closed
    return await asyncio.gather(*(one() for _ in range(clients)))


# MARK: the run

async def main():
    admin = platform_api.admin_token(BASE, BINARY, f"admin-abuse{os.getpid()}-{int(time.time())}@example.com", os.environ)
    client, provider, job = platform_api.assigned_job(BASE, admin, f"abuse{os.getpid()}{int(time.time())}")
    channel = f"location:{job}"
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
    storm = await asyncio.gather(
        connect_storm(n(2000), client["accessToken"]),
        asyncio.gather(*(raw_session(payloads, upgrade=upgrade) for _ in range(n(20)) for payloads, upgrade in MALFORMED.values())),
        subscribe_flood(client["accessToken"], client["user"]["id"], n(20), 500),
        slow_readers(client["accessToken"], channel, n(30), 200),
    )
    storm_ended = time.time()
    peak_rss = rss_mib()
    connected, malformed, floods, slow = storm
    log(f"storm {storm_ended - storm_started:.1f} s: {connected} connect/leave cycles, {len(malformed)} malformed sessions "
        f"({sum(1 for o in malformed if o == 'closed')} closed by the server, {sum(1 for o in malformed if o == 'left open')} left open), "
        f"{len(floods)} subscribe floods ({floods.count('closed')} closed), {len(slow)} slow readers ({sum(slow)} cut off)")
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
    expect(all(slow), f"slow readers are cut off or paused ({sum(slow)} of {len(slow)})")
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
