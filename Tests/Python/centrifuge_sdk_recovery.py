"""Drives the realtime gateway with Centrifugo's official Python SDK (centrifuge-python).

Connects with a platform access token, subscribes to a recoverable channel, receives a
publication a service produced to Kafka, disconnects, lets the Swift test publish what it will
miss, reconnects and expects the SDK to recover exactly those publications.

The Swift test and this script meet through a status file: this script appends lines
("subscribed", "received 1", "disconnected", "result {...}"); the test appends "published".
"""
import asyncio
import json
import sys

from centrifuge import Client, ClientEventHandler, SubscriptionEventHandler

url, token, channel, status_path = sys.argv[1:5]
received = []
subscribed = []


def write(line):
    with open(status_path, "a") as status:
        status.write(line + "\n")


async def wait_for_line(line, timeout=30):
    for _ in range(int(timeout / 0.05)):
        with open(status_path) as status:
            if line in status.read().split("\n"):
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(line)


async def wait_until(predicate, timeout=20):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition")


class Subscription(SubscriptionEventHandler):
    async def on_subscribed(self, ctx):
        subscribed.append({"recovered": ctx.recovered, "was_recovering": ctx.was_recovering,
                           "offset": ctx.stream_position.offset if ctx.stream_position else None})

    async def on_publication(self, ctx):
        received.append({"data": ctx.pub.data, "offset": ctx.pub.offset})


async def main():
    client = Client(url, ClientEventHandler(), token=token, timeout=5)
    sub = client.new_subscription(channel, Subscription(), recoverable=True)
    await client.connect()
    await sub.subscribe()
    await sub.ready(10)
    write("subscribed")
    await wait_until(lambda: len(received) >= 1)
    write("received 1")
    await client.disconnect()
    write("disconnected")
    await wait_for_line("published")
    await client.connect()
    await sub.subscribe()
    await sub.ready(10)
    await wait_until(lambda: len(received) >= 4)
    await asyncio.sleep(0.3)  # anything duplicated would show up now
    write("result " + json.dumps({"received": received, "subscribed": subscribed}))
    await client.disconnect()


asyncio.run(asyncio.wait_for(main(), 60))
