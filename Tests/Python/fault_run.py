#!/usr/bin/env python3
"""The fault run: the platform as separate processes (the API and every worker, as on Kubernetes)
on the durable stack, a load driver running the whole flow at a fixed rate, and - one at a time,
mid-traffic - Redis, MongoDB, the broker and each process killed with SIGKILL and started again.
Then it checks what a user of the platform is owed:

- every request the API answered with 2xx has its effects, exactly once: the service request,
  an offer to a provider (never two to the same provider), the job once accepted at the last
  status the provider was told it reached, the chat messages once each, one capture in the
  ledger per completed job and a ledger that balances, each notification once in the feed,
  every outbox event published, and the analytics counting each request and completion once;
- while a server is down, requests get 503 problem+json, never a 500 and never a hang beyond
  the client's timeout; `/health/ready` answers 503 while it is down and 200 within 10 s after;
- no process exits that was not killed, and every killed one is ready again.

Started by scripts/fault.sh (which starts the durable stack on its own ports and sets the
environment); prints the figures and exits 1 when a check fails.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pymongo

import platform_api

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.join(ROOT, ".build", "debug", "marketplace")
RUN_DIR = os.environ["STACK_RUN"]
DATABASE = os.environ["MONGO_DATABASE"]
API_PORT = int(os.environ.get("FAULT_API_PORT", "18180"))
BASE = f"http://127.0.0.1:{API_PORT}"
RATE = float(os.environ.get("FAULT_RATE", "0.5"))          # new flows (client requests) per second
OUTAGE = float(os.environ.get("FAULT_OUTAGE", "5"))         # seconds a killed server or process stays down
SETTLE = float(os.environ.get("FAULT_SETTLE", "20"))        # seconds of traffic between two faults
TIMEOUT = float(os.environ.get("FAULT_CLIENT_TIMEOUT", "15"))  # the load driver's HTTP timeout: longer is a hang
PROVIDERS = int(os.environ.get("FAULT_PROVIDERS", "6"))
PASSWORD = platform_api.PASSWORD
LISBON = platform_api.LISBON
SERVERS = ["redis", "mongo", "kafka"]
WORKERS = ["dispatch", "provider-locations", "provider-ratings", "notifications", "notifications-email", "notifications-push",
           "notifications-sms", "payments", "payments-webhooks", "chat", "analytics", "realtime-bridge", "realtime-gateway"]


PREFIX = "fault"  # the soak (soak_run.py) runs this module's platform, load and checks as "soak"


def log(*parts):
    print(f"{PREFIX}: {time.strftime('%H:%M:%S')}", *parts, flush=True)


# MARK: the journal of every call the load driver made

class Journal:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []      # (started, name, status, seconds, problem content type?)
        self.facts = defaultdict(list)  # what the API confirmed with a 2xx, by kind

    def call(self, name, status, seconds, problem_json):
        with self.lock:
            self.calls.append((time.time(), name, status, seconds, problem_json))

    def fact(self, kind, value):
        with self.lock:
            self.facts[kind].append(value)


JOURNAL = Journal()


def http(method, path, body=None, token=None, name=None, timeout=TIMEOUT, base=BASE):
    """One call: (status, decoded body). Named calls go into the journal."""
    answer = platform_api.call(base, method, path, body, token, timeout)
    if name:
        JOURNAL.call(name, answer.status, answer.seconds, answer.problem)
    return answer.status, answer.body


until = platform_api.until


# MARK: the processes

class Platform:
    def __init__(self):
        self.processes = {}
        self.killed = set()
        self.unexpected_exits = Counter()
        self.lock = threading.Lock()
        self.ports = {"api": API_PORT}
        for index, worker in enumerate(WORKERS):
            self.ports[worker] = API_PORT + 10 + index
        self.stopping = False

    def environment(self, name):
        env = dict(os.environ)
        env["HTTP_PORT"] = str(self.ports[name])
        env["LOG_LEVEL"] = "warning"
        return env

    def command(self, name):
        return [BINARY, "serve"] if name == "api" else [BINARY, "worker", name]

    def start(self, name):
        logfile = open(os.path.join(RUN_DIR, f"process-{name}.log"), "ab")
        process = subprocess.Popen(self.command(name), env=self.environment(name), stdout=logfile, stderr=subprocess.STDOUT)
        with self.lock:
            self.processes[name] = process
            self.killed.discard(name)

    def kill(self, name):
        with self.lock:
            self.killed.add(name)
            process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def ready(self, name):
        status, _ = http("GET", "/health/ready", timeout=2, base=f"http://127.0.0.1:{self.ports[name]}")
        return status

    def watch(self):
        """A process that exits without being killed is a crash: counted and started again (as a
        Deployment would)."""
        while not self.stopping:
            with self.lock:
                items = list(self.processes.items())
            for name, process in items:
                if process.poll() is not None and name not in self.killed and not self.stopping:
                    self.unexpected_exits[name] += 1
                    log(f"{name} exited by itself (code {process.returncode}); starting it again")
                    self.start(name)
            time.sleep(0.5)

    def stop(self):
        self.stopping = True
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def stack(action, server):
    subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), action, server], check=True, stdout=subprocess.DEVNULL)


# MARK: the load driver

class Load:
    def __init__(self, admin_token, category, admin_email=None):
        self.admin = admin_token
        self.admin_email = admin_email
        self.category = category
        self.running = True
        self.flows = ThreadPoolExecutor(max_workers=64)
        self.pending = []
        self.providers = []
        self.handled_offers = set()
        self.lock = threading.Lock()

    # A provider: online near Lisbon, reports its position, takes every offer and works the job.
    # Its access token expires after 15 minutes (the soak runs longer): refreshed on a 401.
    def provider(self, index):
        position = (LISBON[0] + 0.01 * (index + 1), LISBON[1])
        session = platform_api.Session(BASE, platform_api.online_provider(BASE, f"provider{index}-{DATABASE}@example.com", self.category, position))
        provider_id = session.tokens["user"]["id"]
        last_report = 0
        while self.running or self.pending_flows():
            token = session.token
            if time.time() - last_report > 10:  # silent providers leave the index after a minute
                if http("POST", "/v1/providers/me/location", {"lat": position[0], "lng": position[1]}, token, name="location")[0] == 202:
                    last_report = time.time()
            status, offers = http("GET", "/v1/offers", token=token, name="offers")
            if status == 401:
                session.refresh(token)
            if status == 200:
                for offer in offers:
                    with self.lock:
                        if offer["status"] != "pending" or offer["id"] in self.handled_offers:
                            continue
                        self.handled_offers.add(offer["id"])
                    JOURNAL.fact("offer", (offer["requestId"], provider_id, offer["id"]))
                    self.flows.submit(self.work, session.token, provider_id, offer)
            time.sleep(0.5)

    def work(self, token, provider_id, offer):
        status, body = http("POST", f"/v1/offers/{offer['id']}/accept", token=token, name="accept")
        if status != 200:
            return  # taken by another provider, expired, or no answer: the request is offered again
        job = body["jobId"]
        JOURNAL.fact("job", (job, offer["requestId"], provider_id))
        for step, target in enumerate(["en_route", "arrived", "in_progress", "completed"]):
            if target == "arrived":
                self.chat(job, token, "provider")
            if not self.move(job, target, token):
                JOURNAL.fact("stuck", (job, target))
                return
            JOURNAL.fact("status", (job, target))

    def move(self, job, target, token):
        def attempt():
            status, _ = http("POST", f"/v1/jobs/{job}/status", {"status": target}, token, name="status")
            if status == 200:
                return True
            if status == 409:  # an attempt that got no answer may have landed: look
                got, view = http("GET", f"/v1/jobs/{job}", token=token, name="job")
                if got == 200 and view["status"] == target:
                    return True
            return None
        return until(attempt) is not None

    def chat(self, job, token, who):
        message_id = f"{who}-{uuid.uuid4().hex[:12]}"
        body = {"text": f"fault run {message_id}", "clientMessageId": message_id}

        def attempt():  # clientMessageId makes the retry of a send that got no answer safe
            status, _ = http("POST", f"/v1/conversations/{job}/messages", body, token, name="chat")
            return True if status in (200, 201) else None
        if until(attempt) is not None:
            JOURNAL.fact("message", (job, message_id))

    # A client: registers, adds a card, asks for a service, writes to the provider once assigned.
    def client_flow(self, number):
        status, tokens = http("POST", "/v1/auth/register", {"email": f"client{number}-{DATABASE}@example.com", "password": PASSWORD,
                                                            "name": f"Client {number}", "role": "client"}, name="register")
        if status != 201:
            return
        token = tokens["accessToken"]
        JOURNAL.fact("client", tokens["user"]["id"])
        card = until(lambda: True if http("POST", "/v1/payments/methods", {"paymentMethodId": "pm_card_visa"}, token, name="card")[0] == 201 else None, 60)
        if card is None:
            return
        status, request = http("POST", "/v1/requests", {"categoryId": self.category, "location": {"lat": LISBON[0], "lng": LISBON[1]},
                                                         "address": "Rua 1", "description": f"fault run {number}",
                                                         "budget": {"amount": "40.00", "currency": "EUR"}}, token, name="request")
        if status != 201:
            return  # not retried: a request is not idempotent without a key; the check finds any that landed
        JOURNAL.fact("request", (request["id"], tokens["user"]["id"]))

        def assigned():
            got, view = http("GET", f"/v1/requests/{request['id']}", token=token, name="request-read")
            if got == 200 and view["status"] != "searching":
                return view
            return None
        view = until(assigned, 240, 2)
        if view is None or view["status"] != "assigned":
            return
        got, jobs = http("GET", "/v1/jobs?active=true", token=token, name="jobs")
        for job in (jobs or []) if got == 200 else []:
            if job["requestId"] == request["id"]:
                self.chat(job["id"], token, "client")

    def pending_flows(self):
        with self.lock:
            self.pending = [future for future in self.pending if not future.done()]
            return len(self.pending)

    def run(self):
        for index in range(PROVIDERS):
            threading.Thread(target=self.provider, args=(index,), daemon=True).start()
        number = 0
        next_at = time.time()
        while self.running:
            number += 1
            future = self.flows.submit(self.client_flow, number)
            with self.lock:
                self.pending.append(future)
            next_at += 1 / RATE
            time.sleep(max(0, next_at - time.time()))


# MARK: the faults

def sample_readiness(platform, samples, stop):
    while not stop.is_set():
        samples.append((time.time(), platform.ready("api")))
        time.sleep(0.5)


def fault(platform, target, outages):
    log(f"kill -9 {target}")
    killed_at = time.time()
    if target in SERVERS:
        stack("kill", target)
    else:
        platform.kill(target)
    time.sleep(OUTAGE)
    started_at = time.time()
    if target in SERVERS:
        stack("start", target)
    else:
        platform.start(target)
    probe = "api" if target in SERVERS else target
    ready_at = until(lambda: time.time() if platform.ready(probe) == 200 else None, 60, 0.1)
    outages.append((target, killed_at, started_at, ready_at))
    log(f"{target} back: ready {ready_at - started_at:.1f} s after start" if ready_at else f"{target} NOT ready 60 s after start")


def consumer_lag(platform):
    """Records the workers' consumer groups have not handled yet: the sum of their
    `kafka_consumer_lag` gauges (None while a worker does not answer)."""
    total = 0
    for name in WORKERS:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{platform.ports[name]}/metrics", timeout=2).read().decode()
        except OSError:
            return None
        total += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("kafka_consumer_lag{"))
    return total


def drain(platform, limit=300):
    """Seconds until the outbox is empty and no consumer group lags, three times in a row 5 s apart
    (the lag gauges come from librdkafka's statistics, refreshed every few seconds); None when
    `limit` passes first."""
    mongo = pymongo.MongoClient(os.environ["MONGO_URI"])[DATABASE]
    started, quiet = time.time(), 0
    while time.time() - started < limit:
        pending, lag = mongo.outbox.count_documents({"status": "pending"}), consumer_lag(platform)
        quiet = quiet + 1 if pending == 0 and lag == 0 else 0
        if quiet == 3:
            return time.time() - started
        log(f"draining: outbox pending {pending}, consumer lag {lag}")
        time.sleep(5)
    return None


# MARK: the checks

def check(platform, load, samples, outages):
    failures = []
    mongo = pymongo.MongoClient(os.environ["MONGO_URI"])[DATABASE]
    facts = JOURNAL.facts
    calls = JOURNAL.calls

    def expect(condition, text):
        log(("ok   " if condition else "FAIL ") + text)
        if not condition:
            failures.append(text)

    statuses = Counter(status for _, _, status, _, _ in calls)
    log("calls by status:", dict(sorted(statuses.items())))
    server_errors = [(name, status) for _, name, status, _, _ in calls if status >= 500 and status != 503]
    expect(not server_errors, f"no 5xx but 503 ({len(server_errors)}: {Counter(server_errors).most_common(5)})")
    bare_503 = [name for _, name, status, _, problem in calls if status == 503 and not problem]
    expect(not bare_503, f"every 503 is problem+json ({len(bare_503)} are not: {Counter(bare_503).most_common(5)})")
    hangs = [name for _, name, status, _, _ in calls if status == -1]
    expect(not hangs, f"no call hung beyond {TIMEOUT:.0f} s ({len(hangs)}: {Counter(hangs).most_common(5)})")
    slowest = sorted(seconds for _, _, _, seconds, _ in calls)[-1] if calls else 0
    log(f"slowest answer {slowest:.2f} s; calls {len(calls)}")

    for target, killed_at, started_at, ready_at in outages:
        if target in SERVERS:
            during = [status for t, status in samples if killed_at + 2 < t < started_at]
            expect(during and all(status == 503 for status in during), f"{target}: readiness 503 while down ({Counter(during)})")
        expect(ready_at is not None and ready_at - started_at <= 10,
               f"{target}: ready within 10 s of its start ({'never' if ready_at is None else f'{ready_at - started_at:.1f} s'})")
    expect(not platform.unexpected_exits, f"no process exited by itself ({dict(platform.unexpected_exits)})")

    requests = {request for request, _ in facts["request"]}
    stored = {doc["_id"]: doc for doc in mongo.service_requests.find({}, {"status": 1, "clientId": 1})}
    expect(requests <= set(stored), f"every 201 request is stored ({len(requests)} answered 201, {len(requests - set(stored))} missing)")
    log(f"requests stored {len(stored)} (answered 201: {len(requests)}; the rest landed after an answer that did not arrive)")
    offers = Counter((doc["requestId"], doc["providerId"]) for doc in mongo.offers.find({}, {"requestId": 1, "providerId": 1}))
    doubles = [pair for pair, count in offers.items() if count > 1]
    expect(not doubles, f"nobody offered the same request twice ({len(doubles)} pairs)")
    offered = {request for request, _ in offers}
    expect(set(stored) <= offered, f"every stored request was offered ({len(set(stored) - offered)} never were)")
    by_status = Counter(doc["status"] for doc in stored.values())
    log("requests by status:", dict(by_status))
    expect(by_status.get("searching", 0) == 0, f"no request still searching after the drain ({by_status.get('searching', 0)})")

    jobs = {doc["_id"]: doc for doc in mongo.jobs.find({}, {"status": 1, "requestId": 1})}
    answered_jobs = {job for job, _, _ in facts["job"]}
    expect(answered_jobs <= set(jobs), f"every accepted offer has its job ({len(answered_jobs - set(jobs))} missing)")
    per_request = Counter(doc["requestId"] for doc in jobs.values())
    expect(all(count == 1 for count in per_request.values()), "one job per request")
    order = ["assigned", "en_route", "arrived", "in_progress", "completed"]
    last = {}
    for job, status in facts["status"]:
        last[job] = max(last.get(job, "assigned"), status, key=order.index)
    behind = [job for job, status in last.items() if job in jobs and order.index(jobs[job]["status"]) < order.index(status)]
    expect(not behind, f"every job is at least at the status the API confirmed ({len(behind)} behind)")
    completed = {job for job, doc in jobs.items() if doc["status"] == "completed"}
    log(f"jobs {len(jobs)}, completed {len(completed)}, stuck flows {len(facts['stuck'])}")

    messages = Counter(doc["clientMessageId"] for doc in mongo.chat_messages.find({}, {"clientMessageId": 1}))
    sent = [message for _, message in facts["message"]]
    expect(all(messages.get(message) == 1 for message in sent),
           f"every confirmed chat message stored once ({sum(1 for m in sent if messages.get(m) != 1)} of {len(sent)} not)")

    captures = Counter()
    for transaction in mongo.ledger_transactions.find({}, {"kind": 1, "paymentId": 1, "jobId": 1, "_id": 1}):
        captures[(transaction.get("paymentId"), transaction.get("kind"))] += 1
    double_postings = [key for key, count in captures.items() if count > 1]
    expect(not double_postings, f"no ledger transaction posted twice ({len(double_postings)})")
    payments = {doc.get("jobId"): doc for doc in mongo.payments.find({}, {"jobId": 1, "status": 1})}
    uncaptured = [job for job in completed if payments.get(job, {}).get("status") not in ("captured", "partially_refunded", "refunded")]
    expect(not uncaptured, f"every completed job's payment captured ({len(uncaptured)} not: "
                           f"{Counter(payments.get(job, {}).get('status') for job in uncaptured)})")
    if load.admin_email:  # a fresh token: the run may have outlasted the first one's 15 minutes
        load.admin = platform_api.login(BASE, load.admin_email, platform_api.ADMIN_PASSWORD)["accessToken"]
    status, ledger = http("GET", "/v1/admin/ledger/check", token=load.admin)
    expect(status == 200 and ledger.get("ok") is True, f"the ledger check passes ({status} {json.dumps(ledger)[:300]})")

    feed = Counter((doc.get("userId"), doc.get("eventId"), doc.get("kind")) for doc in mongo.notifications.find({}))
    expect(all(count == 1 for count in feed.values()), f"each notification once in the feed ({sum(1 for c in feed.values() if c > 1)} twice)")
    unpublished = mongo.outbox.count_documents({"status": "pending"})
    expect(unpublished == 0, f"every outbox event published ({unpublished} waiting)")

    status, overview = http("GET", "/v1/admin/analytics/overview?granularity=day", token=load.admin)
    totals = overview.get("totals", {}) if status == 200 else {}
    log("analytics totals:", json.dumps(totals)[:400])
    expect(totals.get("requests") == len(stored), f"analytics counted each request once ({totals.get('requests')} vs {len(stored)})")
    expect(totals.get("completed") == len(completed), f"analytics counted each completion once ({totals.get('completed')} vs {len(completed)})")
    return failures


def main():
    platform = Platform()
    log(f"run {DATABASE}: flows at {RATE}/s, outages of {OUTAGE:.0f} s, {SETTLE:.0f} s between faults")
    subprocess.run([BINARY, "topics", "apply", "--directory", os.path.join(ROOT, "topics")], check=True, stdout=subprocess.DEVNULL)
    for name in ["api"] + WORKERS:
        platform.start(name)
    for name in ["api"] + WORKERS:
        if until(lambda: True if platform.ready(name) == 200 else None, 90, 0.2) is None:
            log(f"{name} did not become ready; its log: {RUN_DIR}/process-{name}.log")
            platform.stop()
            return 1
    threading.Thread(target=platform.watch, daemon=True).start()

    admin_email = f"admin-{DATABASE}@example.com"
    admin = platform_api.admin_token(BASE, BINARY, admin_email, os.environ)
    category = f"plumbing-{DATABASE}"
    assert http("POST", "/v1/categories", {"slug": category, "name": "Plumbing"}, admin)[0] == 201
    load = Load(admin, category, admin_email)
    threading.Thread(target=load.run, daemon=True).start()

    samples, outages, stop = [], [], threading.Event()
    threading.Thread(target=sample_readiness, args=(platform, samples, stop), daemon=True).start()
    targets = [t for t in os.environ.get("FAULT_TARGETS", ",".join(SERVERS + ["api"] + WORKERS)).split(",") if t]
    time.sleep(SETTLE)
    for target in targets:
        fault(platform, target, outages)
        time.sleep(SETTLE)
    load.running = False
    log("load stopped; waiting for the flows in flight")
    deadline = time.time() + 300
    while load.pending_flows() and time.time() < deadline:
        time.sleep(2)
    log(f"flows left: {load.pending_flows()}; letting the workers drain")
    drained = drain(platform)
    log(f"drained in {drained:.0f} s" if drained is not None else "NOT drained after 300 s (outbox or consumer lag left)")
    stop.set()
    failures = check(platform, load, samples, outages)
    platform.stop()
    log(f"{len(failures)} checks failed" if failures else "every check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
