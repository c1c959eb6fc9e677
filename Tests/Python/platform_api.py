"""The platform's REST API as the Python tools use it (the fault run, the WebSocket abuse run):
one call with a timeout, the retry loop of a patient client, and the set-up of a job between a
client and a provider through the real API and workers. Standard library only."""
import json
import random
import subprocess
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "tool admin password 1!"
LISBON = (38.72, -9.14)


class Answer:
    """What one call got: `status` (0 = refused or reset, -1 = no answer within the timeout),
    the decoded JSON `body`, whether it was problem+json, and how long it took."""

    def __init__(self, status, body, problem, seconds):
        self.status, self.body, self.problem, self.seconds = status, body, problem, seconds


def call(base, method, path, body=None, token=None, timeout=15.0):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, method=method, data=data, headers=headers)
    started = time.time()
    status, raw, content_type = 0, b"", ""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, content_type = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, raw, content_type = error.code, error.read(), error.headers.get("Content-Type", "")
    except Exception as error:  # refused, reset, timed out
        status = -1 if "timed out" in str(error) else 0
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = None
    return Answer(status, decoded, content_type.startswith("application/problem+json"), time.time() - started)


def until(step, deadline_seconds=150.0, pause=1.0):
    """Retries `step` (a value, or None to try again) with jittered pauses, as a mobile client would."""
    deadline = time.time() + deadline_seconds
    while time.time() < deadline:
        value = step()
        if value is not None:
            return value
        time.sleep(pause + random.random() * pause)
    return None


def admin_token(base, binary, email, environment):
    """Creates an administrator with the CLI (as an operator would) and logs in."""
    subprocess.run([binary, "users", "create-admin", "--email", email], check=True, stdout=subprocess.DEVNULL,
                   env=dict(environment, MARKETPLACE_ADMIN_PASSWORD=ADMIN_PASSWORD))
    answer = call(base, "POST", "/v1/auth/login", {"email": email, "password": ADMIN_PASSWORD})
    assert answer.status == 200, f"admin login: {answer.status} {answer.body}"
    return answer.body["accessToken"]


def login(base, email, password):
    answer = call(base, "POST", "/v1/auth/login", {"email": email, "password": password})
    assert answer.status == 200, f"login: {answer.status} {answer.body}"
    return answer.body


class Session:
    """A user's tokens as a client SDK keeps them: on a 401 (the 15-minute access token expired)
    `refresh()` trades the refresh token for new ones. Thread-safe enough for the tools: a lost
    race refreshes twice, and the reused refresh token then ends the session - so one lock."""

    def __init__(self, base, tokens):
        import threading
        self.base, self.tokens, self.lock = base, tokens, threading.Lock()

    @property
    def token(self):
        return self.tokens["accessToken"]

    def refresh(self, stale):
        with self.lock:
            if self.tokens["accessToken"] != stale:
                return  # another thread refreshed already
            answer = call(self.base, "POST", "/v1/auth/refresh", {"refreshToken": self.tokens["refreshToken"]})
            if answer.status == 200:
                self.tokens = answer.body


def register(base, email, role):
    answer = call(base, "POST", "/v1/auth/register", {"email": email, "password": PASSWORD, "name": role.title(), "role": role})
    assert answer.status == 201, f"registration: {answer.status} {answer.body}"
    return answer.body


def online_provider(base, email, category, position):
    tokens = register(base, email, "provider")
    token = tokens["accessToken"]
    profile = {"categories": [category], "bio": "tool", "serviceRadiusKm": 50, "pricing": {"currency": "EUR", "hourlyRate": "40.00"},
               "workingHours": [{"day": day, "start": "00:00", "end": "23:59"} for day in range(7)]}
    for method, path, body, expected in [("PUT", "/v1/providers/me/profile", profile, 200),
                                         ("PUT", "/v1/providers/me/availability", {"online": True}, 200),
                                         ("POST", "/v1/providers/me/location", {"lat": position[0], "lng": position[1]}, 202)]:
        answer = until(lambda: (lambda a: a if a.status not in (0, -1, 503) else None)(call(base, method, path, body, token)), 60)
        assert answer and answer.status == expected, f"{method} {path}: {answer and answer.status} {answer and answer.body}"
    return tokens


def assigned_job(base, admin, tag):
    """A client's request offered to one online provider by the dispatch worker and accepted:
    (client tokens, provider tokens, job id)."""
    category = f"tool-{tag}"
    assert call(base, "POST", "/v1/categories", {"slug": category, "name": "Tool"}, admin).status == 201
    provider = online_provider(base, f"provider-{tag}@example.com", category, (LISBON[0] + 0.01, LISBON[1]))
    client = register(base, f"client-{tag}@example.com", "client")
    assert call(base, "POST", "/v1/payments/methods", {"paymentMethodId": "pm_card_visa"}, client["accessToken"]).status == 201
    request = call(base, "POST", "/v1/requests", {"categoryId": category, "location": {"lat": LISBON[0], "lng": LISBON[1]}, "address": "Rua 1",
                                                  "description": "tool", "budget": {"amount": "40.00", "currency": "EUR"}}, client["accessToken"])
    assert request.status == 201, f"request: {request.status} {request.body}"

    def offered():
        answer = call(base, "GET", "/v1/offers", token=provider["accessToken"])
        return next((offer for offer in answer.body or [] if offer["requestId"] == request.body["id"]), None) if answer.status == 200 else None
    offer = until(offered, 60, 0.3)
    assert offer, "no offer reached the provider within 60 s"
    accepted = call(base, "POST", f"/v1/offers/{offer['id']}/accept", token=provider["accessToken"])
    assert accepted.status == 200, f"accept: {accepted.status} {accepted.body}"
    return client, provider, accepted.body["jobId"]
