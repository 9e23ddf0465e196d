"""An agent as a third party writes one, with published libraries used
unchanged: py-spiffe fetches the agent's JWT-SVID from keybound's own
Workload API, requests asks for a task, Authlib's OAuth2Session runs the
RFC 8693 token exchange and pydpop makes every DPoP proof (RFC 9449),
including the nonce retry it does by itself.

One step per run, chosen by the first argument; it prints one JSON object
on its last line. The DPoP key lives in a file (a private JWK) so that
the steps share it, as a real agent keeps its key.

    agent.py svid AUDIENCE                       -> {"svid", "spiffe_id"}
    agent.py request BASE SVID BODY_JSON         -> {"status", "body"}
    agent.py exchange TOKEN_URL KEYFILE FORM_JSON
                                                 -> {"ok", "token"|"error", "nonce_retry"}
    agent.py call URL KEYFILE ACCESS_TOKEN [METHOD]
                                                 -> {"status", "body", "www_authenticate", "nonce_retry"}
    agent.py end BASE SVID TASK_ID               -> {"status"}

SPIFFE_ENDPOINT_SOCKET names the Workload API socket for `svid`.
"""

import json
import os
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from pydpop import generate_key, private_jwk, private_key_from_jwk
from pydpop.integrations.requests import DPoPAuth

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def say(obj):
    print(json.dumps(obj), flush=True)


def key_at(path):
    """The agent's DPoP key: made on first use, then read back."""
    if os.path.exists(path):
        with open(path) as f:
            return private_key_from_jwk(json.load(f))
    key = generate_key()
    with open(path, "w") as f:
        json.dump(private_jwk(key), f)
    return key


def svid(audience):
    from spiffe import WorkloadApiClient

    with WorkloadApiClient() as client:
        fetched = client.fetch_jwt_svid(audience={audience})
        say({"svid": fetched.token, "spiffe_id": str(fetched.spiffe_id)})


def request(base, token, body):
    reply = requests.post(
        base.rstrip("/") + "/agents/v1/tasks",
        headers={"Authorization": "Bearer " + token},
        json=json.loads(body),
        timeout=30,
    )
    try:
        answer = reply.json()
    except ValueError:
        answer = reply.text
    say({"status": reply.status_code, "body": answer})


def exchange(token_url, keyfile, form):
    params = json.loads(form)
    dpop = DPoPAuth(key_at(keyfile))
    # A public agent: no client authentication (the actor token is what
    # authenticates it), so no client_id and the DPoP auth in its place.
    session = OAuth2Session(client_id=None, token_endpoint_auth_method="none")
    try:
        token = session.fetch_token(
            token_url, grant_type=TOKEN_EXCHANGE, auth=dpop, **params
        )
    except OAuthError as e:
        say({"ok": False, "error": e.error, "nonce_retry": dpop.nonce is not None})
        return
    say({"ok": True, "token": dict(token), "nonce_retry": dpop.nonce is not None})


def call(url, keyfile, access_token, method="GET"):
    dpop = DPoPAuth(key_at(keyfile), access_token=access_token)
    # The DPoP scheme (RFC 9449 §7.1); pydpop adds the proof with `ath`.
    reply = requests.request(
        method,
        url,
        headers={"Authorization": "DPoP " + access_token},
        auth=dpop,
        timeout=30,
    )
    say(
        {
            "status": reply.status_code,
            "body": reply.text,
            "www_authenticate": reply.headers.get("WWW-Authenticate", ""),
            "nonce_retry": dpop.nonce is not None,
        }
    )


def end(base, token, task_id):
    reply = requests.post(
        base.rstrip("/") + "/agents/v1/tasks/" + task_id + "/end",
        headers={"Authorization": "Bearer " + token},
        timeout=30,
    )
    say({"status": reply.status_code})


def main():
    steps = {"svid": svid, "request": request, "exchange": exchange, "call": call, "end": end}
    step = steps[sys.argv[1]]
    step(*sys.argv[2:])


if __name__ == "__main__":
    main()
