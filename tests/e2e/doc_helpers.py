"""Shared content samples and helpers for the SSM document tests
(test_documents.py and test_documents_errors.py).  Not a test module."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from conftest import REGION, collect

BUILTIN_NAMES = [
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-RunDocument",
    "AWS-ConfigureAWSPackage",
    "AWS-GatherSoftwareInventory",
    "AWS-RunPatchBaseline",
    "AWS-UpdateSSMAgent",
    "AWS-StartPortForwardingSession",
    "AWS-StartPortForwardingSessionToRemoteHost",
    "AWS-StartInteractiveCommand",
    "SSM-SessionManagerRunShell",
]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def doc_arn(account: str, name: str, region: str = REGION) -> str:
    return f"arn:aws:ssm:{region}:{account}:document/{name}"


def dev_account() -> str:
    """A random 12-digit account id (not starting with 0) for a --dev server."""
    return str(secrets.randbelow(9 * 10**11) + 10**11)


# --------------------------------------------------------------------------- #
# content samples
# --------------------------------------------------------------------------- #


def cmd22(message: str = "hello", *, extra_step: bool = False, powershell: bool = False) -> str:
    """A Command 2.2 document in JSON, with three parameters in non-alphabetical order."""
    steps = [
        {
            "action": "aws:runShellScript",
            "name": "say",
            "inputs": {
                "runCommand": ["echo {{ zeta }}", "{{ alpha }}"],
                "workingDirectory": "{{ mid }}",
            },
        }
    ]
    if powershell:
        steps.append(
            {
                "action": "aws:runPowerShellScript",
                "name": "sayWindows",
                "inputs": {"runCommand": ["Write-Output '{{ zeta }}'"]},
            }
        )
    if extra_step:
        steps.append(
            {"action": "aws:runShellScript", "name": "again", "inputs": {"runCommand": ["echo again"]}}
        )
    doc = {
        "schemaVersion": "2.2",
        "description": f"Say {message}",
        "parameters": {
            "zeta": {"type": "String", "description": "What to say", "default": message},
            "alpha": {"type": "StringList", "description": "More commands"},
            "mid": {"type": "String", "description": "Where to run", "default": ""},
        },
        "mainSteps": steps,
    }
    return json.dumps(doc, indent=2)


def cmd22_simple(marker: str = "x") -> str:
    """A minimal Command 2.2 JSON document; ``marker`` makes the content unique."""
    return json.dumps(
        {
            "schemaVersion": "2.2",
            "description": f"simple {marker}",
            "mainSteps": [
                {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": [f"echo {marker}"]}}
            ],
        }
    )


CMD22_YAML = """\
---
schemaVersion: '2.2'
description: A YAML command document
parameters:
  greeting:
    type: String
    description: The greeting
    default: hi there
  targets:
    type: StringList
    description: Whom to greet
mainSteps:
  - action: aws:runShellScript
    name: greet
    inputs:
      runCommand:
        - 'echo "{{ greeting }}"'
        - '{{ targets }}'
"""


def cmd12(marker: str = "x") -> str:
    """A Command 1.2 document (runtimeConfig, aws:runPowerShellScript)."""
    return json.dumps(
        {
            "schemaVersion": "1.2",
            "description": f"legacy {marker}",
            "parameters": {
                "commands": {"type": "StringList", "description": "Commands to run"},
                "executionTimeout": {"type": "String", "description": "Timeout", "default": "3600"},
            },
            "runtimeConfig": {
                "aws:runPowerShellScript": {
                    "properties": [
                        {
                            "id": "0.aws:runPowerShellScript",
                            "runCommand": "{{ commands }}",
                            "timeoutSeconds": "{{ executionTimeout }}",
                        }
                    ]
                }
            },
        },
        indent=4,
    )


AUTOMATION_YAML = """\
schemaVersion: '0.3'
description: Sleep for a while
parameters:
  Duration:
    type: String
    description: How long to sleep
    default: PT1S
  Note:
    type: String
    description: A note
mainSteps:
  - name: nap
    action: aws:sleep
    inputs:
      Duration: '{{ Duration }}'
  - name: done
    action: aws:sleep
    inputs:
      Duration: PT0S
"""


SESSION_PORT_YAML = """\
schemaVersion: '1.0'
description: Forward a port
sessionType: Port
parameters:
  portNumber:
    type: String
    description: The remote port
    default: '8080'
properties:
  portNumber: '{{ portNumber }}'
  type: LocalPortForwarding
"""


SESSION_SHELL_JSON = json.dumps(
    {
        "schemaVersion": "1.0",
        "description": "My session preferences",
        "sessionType": "Standard_Stream",
        "inputs": {
            "s3BucketName": "",
            "s3KeyPrefix": "",
            "s3EncryptionEnabled": True,
            "cloudWatchLogGroupName": "",
            "cloudWatchEncryptionEnabled": True,
            "cloudWatchStreamingEnabled": False,
            "kmsKeyId": "",
            "runAsEnabled": False,
            "runAsDefaultUser": "",
            "idleSessionTimeout": "15",
            "shellProfile": {"windows": "", "linux": "exec bash"},
        },
    },
    indent=2,
)


# --------------------------------------------------------------------------- #
# calls
# --------------------------------------------------------------------------- #


def create(ssm, name: str, content: str | None = None, *, doc_type: str = "Command", fmt: str = "JSON", **kw):
    content = cmd22_simple(name) if content is None else content
    return ssm.create_document(Name=name, Content=content, DocumentType=doc_type, DocumentFormat=fmt, **kw)[
        "DocumentDescription"
    ]


def describe(ssm, name: str, **kw) -> dict:
    return ssm.describe_document(Name=name, **kw)["Document"]


def list_docs(ssm, **kw) -> list:
    return collect(ssm.list_documents, "DocumentIdentifiers", **kw)


def list_names(ssm, **kw) -> list:
    return [d["Name"] for d in list_docs(ssm, **kw)]


def versions(ssm, name: str, **kw) -> list:
    return collect(ssm.list_document_versions, "DocumentVersions", Name=name, **kw)


def wait_active(ssm, name: str, timeout: float = 10.0, **kw) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = describe(ssm, name, **kw)
        if doc["Status"] == "Active" or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)
