"""A job's provider in the chat, driven with Centrifugo's official Python SDK (centrifuge-python).

Subscribes to the conversation's channel, waits for the client's message (sent over REST,
stored, then delivered through Kafka and the gateway), publishes a typing indicator, and checks
that publishing a chat message on the channel is refused (messages are stored first, via REST).

Writes lines to a status file: "subscribed", then "result {...}".
"""
import asyncio
import json
import sys

from centrifuge import Client, ClientEventHandler, SubscriptionEventHandler

url, token, channel, status_path, expected_text = sys.argv[1:6]
messages = []


def write(line):
    with open(status_path, "a") as status:
        status.write(line + "\n")


class Subscription(SubscriptionEventHandler):
    async def on_publication(self, ctx):
        data = ctx.pub.data
        if data.get("type") == "chat.message-sent.v1":
            messages.append({"seq": data["data"]["message"]["seq"], "text": data["data"]["message"].get("text"),
                             "kind": data["data"]["message"]["kind"], "offset": ctx.pub.offset})


async def main():
    client = Client(url, ClientEventHandler(), token=token, timeout=5)
    sub = client.new_subscription(channel, Subscription(), recoverable=True)
    await client.connect()
    await sub.subscribe()
    await sub.ready(10)
    write("subscribed")
    for _ in range(600):
        if any(m["text"] == expected_text for m in messages):
            break
        await asyncio.sleep(0.05)
    await sub.publish({"type": "typing"})
    refused = None
    try:
        await sub.publish({"text": "sent over the socket"})
    except Exception as error:  # the SDK raises with the server's error code
        refused = getattr(error, "code", str(error))
    write("result " + json.dumps({"messages": messages, "refused": refused}))
    await client.disconnect()


asyncio.run(asyncio.wait_for(main(), 60))
