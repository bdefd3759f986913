#!/usr/bin/env python3
"""Create an activation on a Steward server with nothing but the Python standard library.

Usage: create-activation.py DATA_DIR/admin.env [default-instance-name]
Prints "ACTIVATION_ID ACTIVATION_CODE". Used by `make run` to register the local agent on
machines that do not have the aws CLI yet. Signs the call with SigV4 like any AWS client.
"""
import datetime
import hashlib
import hmac
import json
import sys
import urllib.request


def read_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            env[key] = value
    return env


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def call(env, target, body):
    endpoint = env["AWS_ENDPOINT_URL_SSM"]
    host = endpoint.split("://", 1)[1].rstrip("/")
    region = env["AWS_REGION"]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    payload = json.dumps(body).encode()
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join([
        "POST", "/", "",
        "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
        signed,
        hashlib.sha256(payload).hexdigest(),
    ])
    scope = f"{date}/{region}/ssm/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = sign(sign(sign(sign(("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode(), date), region), "ssm"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={env['AWS_ACCESS_KEY_ID']}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    request = urllib.request.Request(endpoint + "/", data=payload, headers=headers, method="POST")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


if __name__ == "__main__":
    env = read_env(sys.argv[1])
    name = sys.argv[2] if len(sys.argv) > 2 else "local"
    out = call(env, "AmazonSSM.CreateActivation", {
        "IamRole": "StewardNodeRole", "RegistrationLimit": 1, "DefaultInstanceName": name,
        "Description": "The machine running make run",
    })
    print(out["ActivationId"], out["ActivationCode"])
