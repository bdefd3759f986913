"""Distributor end to end: `steward package create` zips folders into package versions and
publishes them (documents of type Package with attachments); real agents install, update
and uninstall them through AWS-ConfigureAWSPackage, downloading the file for their platform
over their control channel and checking its SHA-256; a package shared with a second account
installs there. Bad manifests, missing or tampered files, oversized and mis-signed uploads,
forbidden SourceUrls and limited IAM users each get an SSM error, never a 500.

The packages' scripts only write marker files under the module's own folder
(`MARKS/<node>/<package>`), so nothing on the machine changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import (
    agent_bin, create_activation, instance_info, pgrep, raises_aws, start_fleet, steward_bin, wait_ping, wait_until,
)
from test_accounts import account_cli, parse_exports
from test_commands import wait_invocation
from test_inventory import gather
from test_tls import make_certificate
from test_iam import allow, as_user, make_user, policy, uid

MAX_MB = 2
TAGS = {"d0": {"role": "tools"}, "d1": {"role": "tools"}}


@pytest.fixture(scope="module")
def https_cert(tmp_path_factory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that the module's server trusts (--outbound-ca-file)."""
    return make_certificate(tmp_path_factory.mktemp("distributor-tls"))


@pytest.fixture(scope="module")
def server(server_factory, https_cert):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--max-attachment-mb", str(MAX_MB),
                                      "--outbound-ca-file", str(https_cert[0])))


@pytest.fixture(scope="module")
def fleet(server, agent_factory):
    return start_fleet(server, agent_factory, TAGS)


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


@pytest.fixture(scope="module")
def marks(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("distributor-marks")


def package_folder(base: Path, marks: Path, name: str, version: str, *, update: bool = True) -> Path:
    """A package folder whose scripts record what they did in MARKS/<node>/<name>."""
    folder = base / f"{name}-{version}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    mark = f'"{marks}/$AWS_SSM_INSTANCE_ID/{name}"'
    (folder / "install.sh").write_text(
        f'mkdir -p "{marks}/$AWS_SSM_INSTANCE_ID"\n'
        f'echo "installed {version} ${{SSM_GREETING:-none}} $(cat payload.txt)" > {mark}\n'
        f"echo installing {name} {version}\n"
    )
    (folder / "uninstall.sh").write_text(f"rm -f {mark}\necho uninstalling {name} {version}\n")
    if update:
        (folder / "update.sh").write_text(f'echo "updated {version} $(cat payload.txt)" > {mark}\necho updating\n')
    (folder / "payload.txt").write_text(f"payload-{version}\n")
    return folder


def publish(server, name: str, version: str, folder: Path, *extra: str, env: dict | None = None):
    argv = [str(steward_bin()), "package", "create", "--name", name, "--version", version,
            "--platform", f"_any/_any/_any={folder}", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env or server.env())
    return done


def published(server, name: str, version: str, folder: Path, *extra: str) -> dict:
    done = publish(server, name, version, folder, *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def mark_of(marks: Path, node: str, name: str) -> str | None:
    path = marks / node / name
    return path.read_text().strip() if path.exists() else None


def configure(ssm, nodes: list[str], name: str, action: str = "Install", **params) -> dict[str, dict]:
    """Runs AWS-ConfigureAWSPackage on `nodes` and waits; each node's invocation."""
    parameters = {"action": [action], "name": [name], **{k: [v] for k, v in params.items()}}
    cid = ssm.send_command(DocumentName="AWS-ConfigureAWSPackage", InstanceIds=nodes, Parameters=parameters)[
        "Command"
    ]["CommandId"]
    return {node: wait_invocation(ssm, cid, node, timeout=90) for node in nodes}


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def manifest(files: dict[str, bytes], version: str = "1.0", platform: str = "_any") -> str:
    first = next(iter(files))
    return json.dumps({
        "schemaVersion": "2.0",
        "version": version,
        "packages": {platform: {"_any": {"_any": {"file": first}}}},
        "files": {n: {"checksums": {"sha256": hashlib.sha256(b).hexdigest()}} for n, b in files.items()},
    })


def signed_upload(server, document: str, file: str, body: bytes, *, ak=None, sk=None, claimed: str | None = None):
    """PUT /distributor/v1/uploads/<document>/<file>, SigV4-signed as botocore signs."""
    url = f"{server.url}/distributor/v1/uploads/{document}/{file}"
    digest = claimed or hashlib.sha256(body).hexdigest()
    request = AWSRequest(method="PUT", url=url, data=body, headers={"x-amz-content-sha256": digest})
    SigV4Auth(Credentials(ak or server.access_key, sk or server.secret_key), "ssm", server.region).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(url, data=body, method="PUT", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class FileServer:
    """A loopback http:// server of a folder, as a SourceUrl; https:// with `tls` (cert, key)."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None):
        handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def files_at(tmp_path):
    made: list[FileServer] = []

    def serve(files: dict[str, bytes]) -> str:
        root = tmp_path / uuid.uuid4().hex[:8]
        root.mkdir()
        for name, body in files.items():
            (root / name).write_bytes(body)
        fs = FileServer(root)
        made.append(fs)
        return fs.url

    yield serve
    for fs in made:
        fs.close()


# --------------------------------------------------------------------------- #
# publishing
# --------------------------------------------------------------------------- #


def test_publish_versions_from_folders(server, ssm, tmp_path, marks):
    name = f"tool-{uid()}"
    first = published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    assert first["DocumentVersion"] == "1" and first["VersionName"] == "1.0"
    [uploaded] = first["Files"]
    d = ssm.describe_document(Name=name)["Document"]
    assert d["DocumentType"] == "Package"
    assert d["VersionName"] == "1.0"
    assert d["AttachmentsInformation"] == [{"Name": uploaded["Name"]}]
    second = published(server, name, "2.0", package_folder(tmp_path, marks, name, "2.0"), "--default")
    assert second["DocumentVersion"] == "2" and second["DefaultVersion"] == "2"
    versions = ssm.list_document_versions(Name=name)["DocumentVersions"]
    assert sorted((v["DocumentVersion"], v.get("VersionName")) for v in versions) == [("1", "1.0"), ("2", "2.0")]
    got = ssm.get_document(Name=name, VersionName="1.0")
    [content] = got["AttachmentsContent"]
    assert content["Name"] == uploaded["Name"] and content["HashType"] == "Sha256"
    assert content["Hash"] == uploaded["Hash"] and content["Size"] == uploaded["Size"]
    assert json.loads(got["Content"])["files"][content["Name"]]["checksums"]["sha256"] == content["Hash"]
    # Publishing the same version again is refused as SSM refuses a duplicate version name.
    again = publish(server, name, "2.0", package_folder(tmp_path, marks, name, "2.0b"))
    assert again.returncode != 0 and "DuplicateDocumentVersionName" in again.stderr


# --------------------------------------------------------------------------- #
# installing
# --------------------------------------------------------------------------- #


def test_install_update_uninstall_on_two_agents(server, ssm, fleet, tmp_path, marks):
    name = f"tool-{uid()}"
    published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    published(server, name, "2.0", package_folder(tmp_path, marks, name, "2.0"), "--default")
    nodes = fleet.ids

    done = configure(ssm, nodes, name, version="1.0", additionalArguments='{"SSM_GREETING": "hello"}')
    for node, inv in done.items():
        assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
        assert f"Installed {name} 1.0" in inv["StandardOutputContent"]
        assert mark_of(marks, node, name) == "installed 1.0 hello payload-1.0"

    # The installed package shows in the node's inventory, as an AWS:Application.
    gather(ssm, nodes[:1], applications="Enabled")
    entries = ssm.list_inventory_entries(InstanceId=nodes[0], TypeName="AWS:Application",
                                         Filters=[{"Key": "AWS:Application.Name", "Values": [name], "Type": "Equal"}])["Entries"]
    assert [(e["Name"], e["Version"], e["ApplicationType"]) for e in entries] == [(name, "1.0", "Distributor")]
    assert entries[0]["PackageId"] == f"arn:aws:ssm:{server.region}:{server.account_id}:document/{name}"

    again = configure(ssm, nodes[:1], name, version="1.0")
    assert "already installed" in again[nodes[0]]["StandardOutputContent"]
    assert mark_of(marks, nodes[0], name) == "installed 1.0 hello payload-1.0", "nothing ran"

    # In-place update to the default version (2.0): update.sh of the new version runs.
    updated = configure(ssm, nodes, name, installationType="In-place update")
    for node, inv in updated.items():
        assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
        assert mark_of(marks, node, name) == "updated 2.0 payload-2.0"

    # A pinned older version, uninstall and reinstall: 2.0's uninstall.sh, then 1.0's install.sh.
    older = configure(ssm, nodes[:1], name, version="1.0")
    out = older[nodes[0]]["StandardOutputContent"]
    assert older[nodes[0]]["Status"] == "Success", older
    assert out.index(f"uninstalling {name} 2.0") < out.index(f"installing {name} 1.0")
    assert mark_of(marks, nodes[0], name) == "installed 1.0 none payload-1.0"

    gone = configure(ssm, nodes, name, action="Uninstall")
    for node, inv in gone.items():
        assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
        assert mark_of(marks, node, name) is None
    nothing = configure(ssm, nodes[:1], name, action="Uninstall")
    assert "not installed" in nothing[nodes[0]]["StandardOutputContent"]


def test_tampered_file_installs_nothing(server, ssm, fleet, tmp_path, marks):
    name = f"tamper-{uid()}"
    pub = published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    [f] = pub["Files"]
    stored = server.data_dir / "blobs" / "steward-packages" / "files" / server.account_id / f["Hash"]
    body = bytearray(stored.read_bytes())
    body[len(body) // 2] ^= 0xFF
    stored.write_bytes(bytes(body))
    node = fleet.ids[0]
    inv = configure(ssm, [node], name)[node]
    assert inv["Status"] == "Failed"
    assert "SHA-256" in inv["StandardErrorContent"] and "nothing was installed" in inv["StandardErrorContent"]
    assert mark_of(marks, node, name) is None


def test_bad_additional_arguments_fail_the_step(server, ssm, fleet, tmp_path, marks):
    name = f"args-{uid()}"
    published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    node = fleet.ids[0]
    inv = configure(ssm, [node], name, additionalArguments='{"PATH": "/tmp"}')[node]
    assert inv["Status"] == "Failed" and "SSM_" in inv["StandardErrorContent"]
    assert mark_of(marks, node, name) is None


def test_failing_install_script_keeps_nothing(server, ssm, fleet, tmp_path, marks):
    name = f"broken-{uid()}"
    folder = package_folder(tmp_path, marks, name, "1.0")
    (folder / "install.sh").write_text("echo about to fail\nexit 3\n")
    published(server, name, "1.0", folder)
    node = fleet.ids[0]
    inv = configure(ssm, [node], name)[node]
    assert inv["Status"] == "Failed"
    assert "exit code 3" in inv["StandardErrorContent"]
    # Fixed in 1.1, the install goes through: the failed one left nothing in the way.
    published(server, name, "1.1", package_folder(tmp_path, marks, name, "1.1"), "--default")
    assert configure(ssm, [node], name)[node]["Status"] == "Success"
    configure(ssm, [node], name, action="Uninstall")


def test_package_shared_with_another_account_installs_there(server, ssm, fleet, tmp_path, marks, agent_factory):
    name = f"shared-{uid()}"
    published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    made = account_cli(server, "create")
    assert made.returncode == 0, made.stderr
    env = parse_exports(made.stdout)
    other = as_user(server, "ssm", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    act_id, code = create_activation(other, name="e2e-other", role="E2ERole-other")
    agent = agent_factory("other")
    agent.register(server.url, act_id, code)
    agent.start()
    node = agent.instance_id
    wait_ping(other, [node], "Online", timeout=30)
    arn = f"arn:aws:ssm:{server.region}:{server.account_id}:document/{name}"

    # Not shared yet: the other account cannot see it.
    with raises_aws("InvalidParameters"):
        other.send_command(DocumentName="AWS-ConfigureAWSPackage", InstanceIds=[node],
                           Parameters={"action": ["Install"], "name": [arn]})
    ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=[env["STEWARD_ACCOUNT_ID"]])
    inv = configure(other, [node], arn)[node]
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    assert mark_of(marks, node, name) == "installed 1.0 none payload-1.0"
    configure(other, [node], arn, action="Uninstall")
    ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToRemove=[env["STEWARD_ACCOUNT_ID"]])


# --------------------------------------------------------------------------- #
# attachment sources
# --------------------------------------------------------------------------- #


def test_source_url_s3_file_url_and_attachment_reference(ssm, files_at):
    body = zip_bytes({"install.sh": f"echo {uid()}\n"})
    url = files_at({"tool.zip": body})
    name = f"src-{uid()}"
    d = ssm.create_document(Name=name, DocumentType="Package", Content=manifest({"tool.zip": body}),
                            Attachments=[{"Key": "SourceUrl", "Values": [url]}])["DocumentDescription"]
    assert d["AttachmentsInformation"] == [{"Name": "tool.zip"}] and d["VersionName"] == "1.0"

    other = zip_bytes({"install.sh": f"echo other {uid()}\n"})
    url2 = files_at({"x.zip": other})
    name2 = f"src-{uid()}"
    ssm.create_document(Name=name2, DocumentType="Package", Content=manifest({"other.zip": other}),
                        Attachments=[{"Key": "S3FileUrl", "Values": [f"{url2}/x.zip"], "Name": "other.zip"}])
    [c] = ssm.get_document(Name=name2)["AttachmentsContent"]
    assert c["Hash"] == hashlib.sha256(other).hexdigest() and c["Size"] == len(other)

    # A new version reuses the first document's file by reference.
    ssm.update_document(Name=name2, DocumentVersion="$LATEST", Content=manifest({"tool.zip": body}, version="2.0"),
                        Attachments=[{"Key": "AttachmentReference", "Values": [f"{name}/1/tool.zip"]}])
    assert ssm.describe_document(Name=name2, DocumentVersion="2")["Document"]["AttachmentsInformation"] == [
        {"Name": "tool.zip"}]


def test_https_source_urls_must_be_trusted(ssm, https_cert, tmp_path):
    body = zip_bytes({"install.sh": f"echo {uid()}\n"})
    site = tmp_path / "site"
    site.mkdir()
    (site / "tool.zip").write_bytes(body)
    trusted = FileServer(site, tls=https_cert)
    (tmp_path / "other").mkdir()
    stranger = FileServer(site, tls=make_certificate(tmp_path / "other"))
    try:
        name = f"https-{uid()}"
        d = ssm.create_document(Name=name, DocumentType="Package", Content=manifest({"tool.zip": body}),
                                Attachments=[{"Key": "SourceUrl", "Values": [trusted.url]}])["DocumentDescription"]
        assert d["AttachmentsInformation"] == [{"Name": "tool.zip"}]
        other = zip_bytes({"install.sh": f"echo {uid()}\n"})
        (site / "other.zip").write_bytes(other)
        with raises_aws("InvalidDocumentContent") as e:
            ssm.create_document(Name=f"https-{uid()}", DocumentType="Package", Content=manifest({"other.zip": other}),
                                Attachments=[{"Key": "SourceUrl", "Values": [stranger.url]}])
        assert "TLS" in e.value.response["Error"]["Message"]
    finally:
        trusted.close()
        stranger.close()


def test_bad_attachments_are_refused(ssm, files_at):
    body = zip_bytes({"install.sh": f"echo {uid()}\n"})
    good = manifest({"tool.zip": body})
    name = f"bad-{uid()}"

    def refused(code: str, content: str = good, **kw) -> str:
        with raises_aws(code) as e:
            ssm.create_document(Name=name, DocumentType="Package", Content=content, **kw)
        return e.value.response["Error"]["Message"]

    # Nothing uploaded and no source: the file is missing.
    assert "not found" in refused("InvalidDocumentContent")
    # The bytes at the URL are not the manifest's.
    url = files_at({"tool.zip": body + b"tampered"})
    assert "SHA-256" in refused("InvalidDocumentContent", Attachments=[{"Key": "SourceUrl", "Values": [url]}])
    # A URL with nothing there.
    empty = files_at({"other.zip": body})
    assert "404" in refused("InvalidDocumentContent", Attachments=[{"Key": "SourceUrl", "Values": [empty]}])
    # Where the server never fetches from.
    for where in ["http://169.254.169.254/latest", "http://10.1.2.3/pkgs", "s3://bucket/prefix", "ftp://x/y",
                  "https://169.254.169.254/latest", "https://[::ffff:169.254.169.254]/x"]:
        refused("InvalidDocumentContent", Attachments=[{"Key": "SourceUrl", "Values": [where]}])
    refused("InvalidDocumentContent", Attachments=[{"Key": "AttachmentReference", "Values": ["nodoc/1/tool.zip"]}])
    refused("InvalidDocumentContent", Attachments=[{"Key": "AttachmentReference", "Values": ["no-slashes"]}])
    # Manifests.
    bad_manifests = {
        "unknown platform": good.replace('"_any": {"_any": {"_any"', '"beos": {"_any": {"_any"'),
        "unknown architecture": good.replace('{"_any": {"file"', '{"sparc": {"file"'),
        "unlisted file": good.replace('"file": "tool.zip"', '"file": "nope.zip"'),
        "bad checksum": json.dumps({**json.loads(good), "files": {"tool.zip": {"checksums": {"sha256": "abc"}}}}),
        "no version": json.dumps({k: v for k, v in json.loads(good).items() if k != "version"}),
        "bad file name": good.replace("tool.zip", "../x.zip"),
    }
    for why, content in bad_manifests.items():
        assert refused("InvalidDocumentContent", content), why
    with raises_aws("InvalidDocumentSchemaVersion"):
        ssm.create_document(Name=name, DocumentType="Package", Content=json.dumps({**json.loads(good), "schemaVersion": "1.0"}))
    # Attachments belong to packages only (so far).
    with raises_aws("InvalidDocumentOperation"):
        ssm.create_document(Name=name, Content=json.dumps({"schemaVersion": "2.2", "mainSteps": [
            {"action": "aws:runShellScript", "name": "s", "inputs": {"runCommand": ["true"]}}]}),
            Attachments=[{"Key": "SourceUrl", "Values": [url]}])
    with raises_aws("InvalidDocument"):
        ssm.describe_document(Name=name)


def test_uploads_are_checked(server, ssm):
    body = zip_bytes({"install.sh": f"echo {uid()}\n"})
    name = f"up-{uid()}"
    status, answer = signed_upload(server, name, "tool.zip", body)
    assert status == 200 and answer["Hash"] == hashlib.sha256(body).hexdigest() and answer["Size"] == len(body)
    # The uploaded file is found by its hash: the document needs no source.
    ssm.create_document(Name=name, DocumentType="Package", Content=manifest({"tool.zip": body}))

    status, answer = signed_upload(server, name, "tool.zip", body, claimed=hashlib.sha256(b"other").hexdigest())
    assert status == 400 and "SHA-256" in answer["message"]
    status, answer = signed_upload(server, name, "tool.zip", b"x" * (MAX_MB * 1024 * 1024 + 1))
    assert status == 400 and answer["__type"].endswith("InvalidDocumentContent")
    status, answer = signed_upload(server, name, "../etc.zip", body)
    assert status in (400, 404)
    status, answer = signed_upload(server, name, "tool.zip", body, sk="wrong-secret")
    assert status in (400, 403) and "Signature" in answer.get("__type", "") + answer.get("message", "")
    # Unsigned.
    req = urllib.request.Request(f"{server.url}/distributor/v1/uploads/{name}/tool.zip", data=body, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code in (400, 403)


def test_send_command_refuses_unknown_packages(ssm, fleet, server, tmp_path, marks):
    node = fleet.ids[0]

    def send(**params):
        ssm.send_command(DocumentName="AWS-ConfigureAWSPackage", InstanceIds=[node],
                         Parameters={k: [v] for k, v in params.items()})

    with raises_aws("InvalidParameters"):
        send(action="Install", name=f"nope-{uid()}")
    name = f"known-{uid()}"
    published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    with raises_aws("InvalidParameters"):
        send(action="Install", name=name, version="9.9")
    with raises_aws("InvalidParameters"):
        send(action="Install", name="AWS-RunShellScript")
    with raises_aws("InvalidParameters"):
        send(action="Upgrade", name=name)


# --------------------------------------------------------------------------- #
# access
# --------------------------------------------------------------------------- #


def test_limited_users_cannot_publish_or_install_what_they_may_not(server, ssm, fleet, tmp_path, marks):
    name = f"guarded-{uid()}"
    published(server, name, "1.0", package_folder(tmp_path, marks, name, "1.0"))
    region, acct = server.region, server.account_id
    nodes = [f"arn:aws:ssm:{region}:{acct}:managed-instance/{n}" for n in fleet.ids]
    runner = policy(allow(["ssm:SendCommand"], [f"arn:aws:ssm:{region}::document/AWS-ConfigureAWSPackage", *nodes]),
                    allow(["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"], ["*"]))
    ak, sk, _ = make_user(server, f"runner-{uid()}", runner)
    limited = as_user(server, "ssm", ak, sk)
    # May run the installer document on the nodes, but not install this package.
    with raises_aws("AccessDeniedException"):
        limited.send_command(DocumentName="AWS-ConfigureAWSPackage", InstanceIds=[fleet.ids[0]],
                             Parameters={"action": ["Install"], "name": [name]})
    # Nor publish: the upload and the document are both refused.
    status, answer = signed_upload(server, name, "x.zip", b"PK", ak=ak, sk=sk)
    assert status == 400 and answer["__type"].endswith("AccessDeniedException")
    env = {**server.env(), "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk}
    done = publish(server, f"{name}-2", "1.0", package_folder(tmp_path, marks, name, "1.0"), env=env)
    assert done.returncode != 0 and "AccessDenied" in done.stderr

    # With the package allowed too, the same user installs it.
    ak2, sk2, _ = make_user(server, f"installer-{uid()}", policy(
        allow(["ssm:SendCommand"], [f"arn:aws:ssm:{region}::document/AWS-ConfigureAWSPackage",
                                    f"arn:aws:ssm:{region}:{acct}:document/{name}", *nodes]),
        allow(["ssm:GetCommandInvocation"], ["*"])))
    installer = as_user(server, "ssm", ak2, sk2)
    inv = configure(installer, [fleet.ids[0]], name)[fleet.ids[0]]
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    configure(ssm, [fleet.ids[0]], name, action="Uninstall")


# --------------------------------------------------------------------------- #
# agent updates
# --------------------------------------------------------------------------- #


def agent_cli(server, *args: str) -> subprocess.CompletedProcess:
    argv = [str(steward_bin()), "agent", *args, "--data-dir", str(server.data_dir)]
    if server.store_url:
        argv += ["--store", server.store_url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def build_claiming(path: Path, version: str) -> Path:
    """A copy of the agent that reports `version` (test builds read it from their own tail)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(agent_bin(), path)
    with open(path, "ab") as f:
        f.write(f"\nSTEWARD_TEST_VERSION={version}\n".encode())
    path.chmod(0o755)
    return path


def publish_build(server, path: Path, version: str) -> dict:
    done = agent_cli(server, "publish", "--binary", str(path), "--version", version)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def agent_version_of(ssm, node: str) -> str | None:
    info = instance_info(ssm, node)
    return info["AgentVersion"] if info and info["PingStatus"] == "Online" else None


def update_agent(ssm, node: str, **params) -> dict:
    cid = ssm.send_command(DocumentName="AWS-UpdateSSMAgent", InstanceIds=[node],
                           Parameters={k: [v] for k, v in params.items()})["Command"]["CommandId"]
    return wait_invocation(ssm, cid, node, timeout=150)


@pytest.fixture
def updatable(server, ssm, agent_factory, tmp_path):
    """An agent running from its own copy of the binary (claiming 1.0.0), so the update may
    replace it; whatever runs from its state directory is ended afterwards."""
    act_id, code = create_activation(ssm, name="e2e-upd", role="E2ERole-upd")
    agent = agent_factory(f"upd-{uid()}")
    agent.register(server.url, act_id, code)
    agent.binary = build_claiming(tmp_path / "installed" / "steward-agent", "1.0.0")
    agent.start()
    wait_until(lambda: agent_version_of(ssm, agent.instance_id) == "1.0.0", 30, "the agent online at 1.0.0")
    yield agent
    agent.stop()
    for pid in pgrep(str(agent.state_dir)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_agent_updates_itself_and_rolls_back_a_broken_build(server, ssm, updatable, tmp_path):
    node, installed = updatable.instance_id, updatable.binary
    v2 = build_claiming(tmp_path / "builds" / "v2", "2.0.0")
    published_v2 = publish_build(server, v2, "2.0.0")
    assert published_v2["sha256"] == hashlib.sha256(v2.read_bytes()).hexdigest()
    assert "2.0.0" in agent_cli(server, "list").stdout

    inv = update_agent(ssm, node, version="2.0.0")
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    assert "Updated steward-agent from 1.0.0 to 2.0.0" in inv["StandardOutputContent"]
    wait_until(lambda: agent_version_of(ssm, node) == "2.0.0", 30, "the node back at 2.0.0")
    assert installed.read_bytes() == v2.read_bytes()
    assert (updatable.state_dir / "update" / "steward-agent.previous").read_bytes().endswith(b"=1.0.0\n")
    again = update_agent(ssm, node, version="2.0.0")
    assert again["Status"] == "Success" and "already installed" in again["StandardOutputContent"]

    # A build that exits at start: the watchdog puts 2.0.0 back and the step fails, saying so.
    broken = tmp_path / "builds" / "v3"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    publish_build(server, broken, "3.0.0")
    failed = update_agent(ssm, node)  # the newest: 3.0.0
    assert failed["Status"] == "Failed", failed
    assert "3.0.0 exited before it connected" in failed["StandardErrorContent"]
    assert "2.0.0 was restored" in failed["StandardErrorContent"]
    wait_until(lambda: agent_version_of(ssm, node) == "2.0.0", 30, "the restored agent online")
    assert installed.read_bytes() == v2.read_bytes()

    # Older builds need allowDowngrade.
    publish_build(server, build_claiming(tmp_path / "builds" / "v15", "1.5.0"), "1.5.0")
    older = update_agent(ssm, node, version="1.5.0")
    assert older["Status"] == "Failed" and "allowDowngrade" in older["StandardErrorContent"]

    # A build changed in the blob store is refused on the node: nothing replaced.
    v4 = publish_build(server, build_claiming(tmp_path / "builds" / "v4", "4.0.0"), "4.0.0")
    stored = server.data_dir / "blobs" / "steward-agent-releases" / v4["sha256"]
    body = bytearray(stored.read_bytes())
    body[100] ^= 0xFF
    stored.write_bytes(bytes(body))
    tampered = update_agent(ssm, node, version="4.0.0")
    assert tampered["Status"] == "Failed" and "SHA-256" in tampered["StandardErrorContent"]
    assert installed.read_bytes() == v2.read_bytes()
    assert agent_version_of(ssm, node) == "2.0.0"

    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName="AWS-UpdateSSMAgent", InstanceIds=[node], Parameters={"version": ["9.9.9"]})
    with raises_aws("InvalidParameters"):
        ssm.send_command(DocumentName="AWS-UpdateSSMAgent", InstanceIds=[node],
                         Parameters={"version": ["2.0.0"], "allowDowngrade": ["maybe"]})


def test_publishing_agent_builds_checks_its_input(server, tmp_path):
    build = build_claiming(tmp_path / "b", "5.0.0")
    for bad in (["--version", "v5"], ["--version", "5.0.0", "--arch", "sparc"]):
        done = agent_cli(server, "publish", "--binary", str(build), *bad)
        assert done.returncode != 0 and done.stderr
    assert agent_cli(server, "publish", "--binary", str(tmp_path / "missing"), "--version", "5.0.0").returncode != 0
    assert agent_cli(server, "publish", "--binary", str(build), "--version", "5.0.0").returncode == 0
    twice = agent_cli(server, "publish", "--binary", str(build), "--version", "5.0.0")
    assert twice.returncode != 0 and "already published" in twice.stderr
