"""SSM documents through boto3 and the aws CLI: create, get, describe, update, versions,
delete, list and its filters, built-in documents, sharing across accounts, tags, persistence.

Error cases live in test_documents_errors.py.  Facts about real SSM behaviour come from
the project's research notes (ssm-document-facts.md).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from conftest import ACCOUNT_ID, REGION, collect, raises_aws
from doc_helpers import (
    AUTOMATION_YAML,
    BUILTIN_NAMES,
    CMD22_YAML,
    SESSION_PORT_YAML,
    SESSION_SHELL_JSON,
    cmd12,
    cmd22,
    cmd22_simple,
    create,
    describe,
    dev_account,
    doc_arn,
    list_docs,
    list_names,
    sha256,
    versions,
    wait_active,
)


@pytest.fixture(scope="module")
def dev_server(server_factory):
    """A --dev server: a 12-digit access key id acts as that account."""
    return server_factory(extra_args=("--dev",))


def acct_client(server, account: str):
    return server.ssm(access_key=account, secret_key="any-secret-will-do")


# --------------------------------------------------------------------------- #
# CreateDocument
# --------------------------------------------------------------------------- #


def check_new_document(d: dict, name: str, content: str, *, doc_type: str, schema: str, fmt: str):
    assert d["Name"] == name
    assert d["Status"] == "Creating"
    assert d["DocumentVersion"] == "1"
    assert d["LatestVersion"] == "1"
    assert d["DefaultVersion"] == "1"
    assert d["Hash"] == sha256(content)
    assert d["HashType"] == "Sha256"
    assert "Sha1" not in d
    assert d["Owner"] == ACCOUNT_ID
    assert d["DocumentType"] == doc_type
    assert d["SchemaVersion"] == schema
    assert d["DocumentFormat"] == fmt
    assert isinstance(d["CreatedDate"], dt.datetime)
    age = dt.datetime.now(dt.timezone.utc) - d["CreatedDate"]
    assert abs(age.total_seconds()) < 300, d["CreatedDate"]


def test_create_command_22_json(ssm, fresh):
    name = fresh.plain("cmd22")
    content = cmd22("hello")
    d = create(ssm, name, content)
    check_new_document(d, name, content, doc_type="Command", schema="2.2", fmt="JSON")
    assert d["Description"] == "Say hello"
    assert d["PlatformTypes"] == ["Linux", "MacOS"]
    assert d["Tags"] == []
    for absent in ("VersionName", "DisplayName", "TargetType"):
        assert absent not in d, (absent, d)
    # parameters in content order; DefaultValue omitted without a default, "" for an empty one
    assert d["Parameters"] == [
        {"Name": "zeta", "Type": "String", "Description": "What to say", "DefaultValue": "hello"},
        {"Name": "alpha", "Type": "StringList", "Description": "More commands"},
        {"Name": "mid", "Type": "String", "Description": "Where to run", "DefaultValue": ""},
    ]


def test_create_then_describe_is_active(ssm, fresh):
    name = fresh.plain("active")
    content = cmd22("x")
    create(ssm, name, content)
    d = wait_active(ssm, name)
    assert d["Status"] == "Active"
    assert d["Hash"] == sha256(content)
    assert d["DocumentVersion"] == "1"
    assert [p["Name"] for p in d["Parameters"]] == ["zeta", "alpha", "mid"]


def test_create_command_22_yaml(ssm, fresh):
    name = fresh.plain("yaml")
    d = create(ssm, name, CMD22_YAML, fmt="YAML")
    check_new_document(d, name, CMD22_YAML, doc_type="Command", schema="2.2", fmt="YAML")
    assert d["Description"] == "A YAML command document"
    assert d["PlatformTypes"] == ["Linux", "MacOS"]
    assert d["Parameters"] == [
        {"Name": "greeting", "Type": "String", "Description": "The greeting", "DefaultValue": "hi there"},
        {"Name": "targets", "Type": "StringList", "Description": "Whom to greet"},
    ]
    got = ssm.get_document(Name=name)
    assert got["Content"] == CMD22_YAML
    assert got["DocumentFormat"] == "YAML"


def test_create_command_12(ssm, fresh):
    name = fresh.plain("cmd12")
    content = cmd12("a")
    d = create(ssm, name, content)
    check_new_document(d, name, content, doc_type="Command", schema="1.2", fmt="JSON")
    assert d["PlatformTypes"] == ["Windows", "Linux"]
    assert d["Parameters"] == [
        {"Name": "commands", "Type": "StringList", "Description": "Commands to run"},
        {"Name": "executionTimeout", "Type": "String", "Description": "Timeout", "DefaultValue": "3600"},
    ]


def test_platform_types_union_and_order(ssm, fresh):
    name = fresh.plain("mixed")
    d = create(ssm, name, cmd22("both", powershell=True))
    assert d["PlatformTypes"] == ["Windows", "Linux", "MacOS"]
    assert describe(ssm, name)["PlatformTypes"] == ["Windows", "Linux", "MacOS"]


def test_create_automation_03_yaml(ssm, fresh):
    name = fresh.plain("auto")
    d = create(ssm, name, AUTOMATION_YAML, doc_type="Automation", fmt="YAML")
    check_new_document(d, name, AUTOMATION_YAML, doc_type="Automation", schema="0.3", fmt="YAML")
    assert d["Parameters"] == [
        {"Name": "Duration", "Type": "String", "Description": "How long to sleep", "DefaultValue": "PT1S"},
        {"Name": "Note", "Type": "String", "Description": "A note"},
    ]
    assert d["PlatformTypes"], d


def test_create_session_port(ssm, fresh):
    name = fresh.plain("port")
    d = create(ssm, name, SESSION_PORT_YAML, doc_type="Session", fmt="YAML")
    check_new_document(d, name, SESSION_PORT_YAML, doc_type="Session", schema="1.0", fmt="YAML")
    assert d["Parameters"] == [
        {"Name": "portNumber", "Type": "String", "Description": "The remote port", "DefaultValue": "8080"},
    ]


def test_create_with_optional_fields(ssm, fresh):
    name = fresh.plain("opts")
    tags = [{"Key": "team", "Value": "infra"}, {"Key": "env", "Value": ""}]
    d = create(
        ssm,
        name,
        cmd22("opts"),
        VersionName="release-1.0",
        DisplayName="My nice document",
        TargetType="/AWS::EC2::Instance",
        Tags=tags,
    )
    assert d["VersionName"] == "release-1.0"
    assert d["DisplayName"] == "My nice document"
    assert d["TargetType"] == "/AWS::EC2::Instance"
    assert sorted(d["Tags"], key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])

    again = describe(ssm, name)
    assert again["VersionName"] == "release-1.0"
    assert again["DisplayName"] == "My nice document"
    assert again["TargetType"] == "/AWS::EC2::Instance"
    assert sorted(again["Tags"], key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])

    got = ssm.get_document(Name=name)
    assert got["VersionName"] == "release-1.0"
    assert got["DisplayName"] == "My nice document"

    [ident] = list_docs(ssm, Filters=[{"Key": "Name", "Values": [name]}])
    assert ident["VersionName"] == "release-1.0"
    assert ident["DisplayName"] == "My nice document"
    assert ident["TargetType"] == "/AWS::EC2::Instance"


def test_hash_is_of_exact_bytes(ssm, fresh):
    """Whitespace, key order, unicode and a trailing newline all count: no normalisation."""
    base = json.loads(cmd22_simple("bytes"))
    variants = [
        json.dumps(base),
        json.dumps(base, indent=4) + "\n",
        json.dumps(base, indent=1, ensure_ascii=False).replace("simple", "grüße ✓ simple"),
        json.dumps(base, indent=2).replace("\n", "\r\n"),
    ]
    for i, content in enumerate(variants):
        name = fresh.plain(f"bytes{i}")
        d = create(ssm, name, content)
        assert d["Hash"] == sha256(content), i
        got = ssm.get_document(Name=name)
        assert got["Content"] == content, i
        assert describe(ssm, name)["Hash"] == sha256(content), i


# --------------------------------------------------------------------------- #
# GetDocument
# --------------------------------------------------------------------------- #


@pytest.fixture
def two_versions(ssm, fresh):
    """A document with version 1 (VersionName v-one, default) and version 2 (v-two)."""
    name = fresh.plain("two")
    c1, c2 = cmd22("first"), cmd22("second")
    create(ssm, name, c1, VersionName="v-one")
    ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST", VersionName="v-two")
    return name, c1, c2


def test_get_document_selectors(ssm, two_versions):
    name, c1, c2 = two_versions

    def get(**kw):
        return ssm.get_document(Name=name, **kw)

    plain = get()
    assert plain["Content"] == c1
    assert plain["DocumentVersion"] == "1"
    assert plain["VersionName"] == "v-one"
    assert plain["Name"] == name
    assert plain["DocumentType"] == "Command"
    assert plain["DocumentFormat"] == "JSON"
    assert plain["Status"] == "Active"

    assert get(DocumentVersion="$DEFAULT")["Content"] == c1
    assert get(DocumentVersion="1")["Content"] == c1
    latest = get(DocumentVersion="$LATEST")
    assert latest["Content"] == c2
    assert latest["DocumentVersion"] == "2"
    assert latest["VersionName"] == "v-two"
    assert get(DocumentVersion="2")["Content"] == c2
    assert get(VersionName="v-two")["Content"] == c2
    assert get(VersionName="v-two")["DocumentVersion"] == "2"
    assert get(VersionName="v-one")["Content"] == c1
    # both, consistent
    assert get(VersionName="v-two", DocumentVersion="2")["Content"] == c2


def test_describe_document_selectors(ssm, two_versions):
    name, c1, c2 = two_versions
    d = describe(ssm, name)
    assert d["DocumentVersion"] == "1"
    assert d["Hash"] == sha256(c1)
    assert d["LatestVersion"] == "2"
    assert d["DefaultVersion"] == "1"
    assert d["Description"] == "Say first"

    d2 = describe(ssm, name, DocumentVersion="2")
    assert d2["DocumentVersion"] == "2"
    assert d2["Hash"] == sha256(c2)
    assert d2["Description"] == "Say second"
    assert d2["VersionName"] == "v-two"
    assert d2["LatestVersion"] == "2"
    assert d2["DefaultVersion"] == "1"

    assert describe(ssm, name, DocumentVersion="$LATEST")["DocumentVersion"] == "2"
    assert describe(ssm, name, DocumentVersion="$DEFAULT")["DocumentVersion"] == "1"
    assert describe(ssm, name, VersionName="v-two")["DocumentVersion"] == "2"


def test_get_yaml_as_json(ssm, fresh):
    name = fresh.plain("y2j")
    create(ssm, name, CMD22_YAML, fmt="YAML")
    got = ssm.get_document(Name=name, DocumentFormat="JSON")
    assert got["DocumentFormat"] == "JSON"
    assert json.loads(got["Content"]) == yaml.safe_load(CMD22_YAML)
    # the stored document is unchanged
    again = ssm.get_document(Name=name)
    assert again["Content"] == CMD22_YAML
    assert again["DocumentFormat"] == "YAML"
    assert ssm.get_document(Name=name, DocumentFormat="YAML")["Content"] == CMD22_YAML


def test_get_json_as_yaml_round_trip(ssm, fresh):
    name = fresh.plain("j2y")
    content = cmd22("round trip", powershell=True)
    create(ssm, name, content)
    as_yaml = ssm.get_document(Name=name, DocumentFormat="YAML")
    assert as_yaml["DocumentFormat"] == "YAML"
    tree = yaml.safe_load(as_yaml["Content"])
    assert tree == json.loads(content)

    # the YAML text is itself a valid document: store it and read it back as JSON
    name2 = fresh.plain("j2y2")
    d = create(ssm, name2, as_yaml["Content"], fmt="YAML")
    assert d["Hash"] == sha256(as_yaml["Content"])
    back = ssm.get_document(Name=name2, DocumentFormat="JSON")
    assert json.loads(back["Content"]) == json.loads(content)


def test_get_automation_and_session_conversions(ssm, fresh):
    auto, sess = fresh.plain("auto"), fresh.plain("sess")
    create(ssm, auto, AUTOMATION_YAML, doc_type="Automation", fmt="YAML")
    create(ssm, sess, SESSION_PORT_YAML, doc_type="Session", fmt="YAML")
    a = ssm.get_document(Name=auto, DocumentFormat="JSON")
    assert a["DocumentType"] == "Automation"
    assert json.loads(a["Content"]) == yaml.safe_load(AUTOMATION_YAML)
    s = ssm.get_document(Name=sess, DocumentFormat="JSON")
    assert s["DocumentType"] == "Session"
    assert json.loads(s["Content"]) == yaml.safe_load(SESSION_PORT_YAML)


# --------------------------------------------------------------------------- #
# UpdateDocument / UpdateDocumentDefaultVersion
# --------------------------------------------------------------------------- #


def test_update_creates_new_version(ssm, fresh):
    name = fresh.plain("upd")
    c1, c2 = cmd22("one"), cmd22("two")
    create(ssm, name, c1)
    d = ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST")["DocumentDescription"]
    assert d["Name"] == name
    assert d["Status"] == "Updating"
    assert d["DocumentVersion"] == "2"
    assert d["LatestVersion"] == "2"
    assert d["DefaultVersion"] == "1"
    assert d["Hash"] == sha256(c2)
    assert d["HashType"] == "Sha256"
    assert d["Description"] == "Say two"
    assert d["Owner"] == ACCOUNT_ID
    assert d["DocumentType"] == "Command"

    # the default (what Describe and Get return without a version) is still 1
    now = describe(ssm, name)
    assert now["DocumentVersion"] == "1"
    assert now["DefaultVersion"] == "1"
    assert now["LatestVersion"] == "2"
    assert now["Hash"] == sha256(c1)
    assert ssm.get_document(Name=name)["Content"] == c1


def test_update_by_latest_number_and_without_version(ssm, fresh):
    name = fresh.plain("updnum")
    create(ssm, name, cmd22("1"))
    d2 = ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="1")["DocumentDescription"]
    assert d2["DocumentVersion"] == "2"
    d3 = ssm.update_document(Name=name, Content=cmd22("3"), DocumentVersion="2")["DocumentDescription"]
    assert d3["DocumentVersion"] == "3"
    d4 = ssm.update_document(Name=name, Content=cmd22("4"))["DocumentDescription"]
    assert d4["DocumentVersion"] == "4"
    assert d4["LatestVersion"] == "4"
    assert d4["DefaultVersion"] == "1"


def test_update_of_non_latest_version_fails(ssm, fresh):
    name = fresh.plain("updold")
    create(ssm, name, cmd22("1"))
    ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST")
    with raises_aws("InvalidDocumentVersion"):
        ssm.update_document(Name=name, Content=cmd22("3"), DocumentVersion="1")
    with raises_aws("InvalidDocumentVersion"):
        ssm.update_document(Name=name, Content=cmd22("3"), DocumentVersion="7")
    with raises_aws("InvalidDocumentVersion", "ValidationException"):
        ssm.update_document(Name=name, Content=cmd22("3"), DocumentVersion="$DEFAULT")
    assert describe(ssm, name)["LatestVersion"] == "2"


def test_update_duplicate_content(ssm, fresh):
    name = fresh.plain("dup")
    c1, c2 = cmd22("1"), cmd22("2")
    create(ssm, name, c1)
    with raises_aws("DuplicateDocumentContent"):
        ssm.update_document(Name=name, Content=c1, DocumentVersion="$LATEST")
    ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST")
    with raises_aws("DuplicateDocumentContent"):
        ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST")
    assert describe(ssm, name)["LatestVersion"] == "2"


def test_update_duplicate_version_name(ssm, fresh):
    name = fresh.plain("dupvn")
    create(ssm, name, cmd22("1"), VersionName="alpha")
    ssm.update_document(Name=name, Content=cmd22("2"), VersionName="beta", DocumentVersion="$LATEST")
    for reused in ("alpha", "beta"):
        with raises_aws("DuplicateDocumentVersionName"):
            ssm.update_document(Name=name, Content=cmd22("3" + reused), VersionName=reused, DocumentVersion="$LATEST")
    assert describe(ssm, name)["LatestVersion"] == "2"


def test_update_schema_12_is_refused(ssm, fresh):
    name = fresh.plain("upd12")
    create(ssm, name, cmd12("a"))
    with raises_aws("InvalidDocumentSchemaVersion"):
        ssm.update_document(Name=name, Content=cmd12("b"), DocumentVersion="$LATEST")
    assert describe(ssm, name)["LatestVersion"] == "1"


def test_update_keeps_display_name(ssm, fresh):
    name = fresh.plain("disp")
    create(ssm, name, cmd22("1"), DisplayName="Shown name")
    d = ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST")["DocumentDescription"]
    assert d["DisplayName"] == "Shown name"
    d = ssm.update_document(Name=name, Content=cmd22("3"), DisplayName="Renamed", DocumentVersion="$LATEST")[
        "DocumentDescription"
    ]
    assert d["DisplayName"] == "Renamed"


def test_update_yaml_document(ssm, fresh):
    name = fresh.plain("updyaml")
    create(ssm, name, CMD22_YAML, fmt="YAML")
    new = CMD22_YAML.replace("hi there", "good morning")
    d = ssm.update_document(Name=name, Content=new, DocumentFormat="YAML", DocumentVersion="$LATEST")[
        "DocumentDescription"
    ]
    assert d["DocumentFormat"] == "YAML"
    assert d["Hash"] == sha256(new)
    assert d["Parameters"][0]["DefaultValue"] == "good morning"
    assert ssm.get_document(Name=name, DocumentVersion="2")["Content"] == new


def test_update_session_document(ssm, fresh):
    """Only Command documents with schema 1.x are frozen; Session documents (schema 1.0) update."""
    name = fresh.plain("updsess")
    create(ssm, name, SESSION_PORT_YAML, doc_type="Session", fmt="YAML")
    new = SESSION_PORT_YAML.replace("'8080'", "'9090'")
    d = ssm.update_document(Name=name, Content=new, DocumentFormat="YAML", DocumentVersion="$LATEST")[
        "DocumentDescription"
    ]
    assert d["DocumentVersion"] == "2"
    assert d["DocumentType"] == "Session"
    assert d["SchemaVersion"] == "1.0"
    assert d["Parameters"][0]["DefaultValue"] == "9090"


def test_update_automation_document(ssm, fresh):
    name = fresh.plain("updauto")
    create(ssm, name, AUTOMATION_YAML, doc_type="Automation", fmt="YAML")
    new = AUTOMATION_YAML.replace("PT1S", "PT2S")
    d = ssm.update_document(Name=name, Content=new, DocumentFormat="YAML", DocumentVersion="$LATEST")[
        "DocumentDescription"
    ]
    assert d["DocumentVersion"] == "2"
    assert d["DocumentType"] == "Automation"
    assert d["Hash"] == sha256(new)


def test_update_default_version(ssm, fresh):
    name = fresh.plain("defv")
    c1, c2 = cmd22("1"), cmd22("2")
    create(ssm, name, c1)
    ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST", VersionName="second")
    out = ssm.update_document_default_version(Name=name, DocumentVersion="2")["Description"]
    assert out["Name"] == name
    assert out["DefaultVersion"] == "2"
    assert out["DefaultVersionName"] == "second"

    d = describe(ssm, name)
    assert d["DefaultVersion"] == "2"
    assert d["DocumentVersion"] == "2"
    assert d["Hash"] == sha256(c2)
    assert ssm.get_document(Name=name)["Content"] == c2
    assert ssm.get_document(Name=name, DocumentVersion="$DEFAULT")["Content"] == c2

    # and back to 1, which has no VersionName
    out = ssm.update_document_default_version(Name=name, DocumentVersion="1")["Description"]
    assert out["DefaultVersion"] == "1"
    assert "DefaultVersionName" not in out
    assert describe(ssm, name)["DefaultVersion"] == "1"


def test_update_default_version_to_missing_version(ssm, fresh):
    name = fresh.plain("defmiss")
    create(ssm, name, cmd22("1"))
    with raises_aws("InvalidDocumentVersion"):
        ssm.update_document_default_version(Name=name, DocumentVersion="2")
    with raises_aws("InvalidDocumentVersion"):
        ssm.update_document_default_version(Name=name, DocumentVersion="99")
    assert describe(ssm, name)["DefaultVersion"] == "1"


# --------------------------------------------------------------------------- #
# ListDocumentVersions
# --------------------------------------------------------------------------- #


def test_list_document_versions(ssm, fresh):
    name = fresh.plain("vers")
    create(ssm, name, cmd22("1"), VersionName="v1", DisplayName="Disp")
    for i in range(2, 6):
        ssm.update_document(Name=name, Content=cmd22(str(i)), VersionName=f"v{i}", DocumentVersion="$LATEST")
    ssm.update_document_default_version(Name=name, DocumentVersion="3")

    vs = versions(ssm, name)
    assert [v["DocumentVersion"] for v in vs] == ["5", "4", "3", "2", "1"]
    assert [v["VersionName"] for v in vs] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in vs] == [False, False, True, False, False]
    for v in vs:
        assert v["Name"] == name
        assert v["DocumentFormat"] == "JSON"
        assert v["Status"] == "Active"
        assert v["DisplayName"] == "Disp"
        assert isinstance(v["CreatedDate"], dt.datetime)

    # paging
    first = ssm.list_document_versions(Name=name, MaxResults=2)
    assert [v["DocumentVersion"] for v in first["DocumentVersions"]] == ["5", "4"]
    assert first.get("NextToken")
    paged = versions(ssm, name, MaxResults=2)
    assert [v["DocumentVersion"] for v in paged] == ["5", "4", "3", "2", "1"]
    one_each = versions(ssm, name, MaxResults=1)
    assert [v["DocumentVersion"] for v in one_each] == ["5", "4", "3", "2", "1"]
    last = ssm.list_document_versions(Name=name, MaxResults=50)
    assert len(last["DocumentVersions"]) == 5
    assert not last.get("NextToken")


def test_list_document_versions_single(ssm, fresh):
    name = fresh.plain("vers1")
    create(ssm, name, CMD22_YAML, fmt="YAML")
    [v] = versions(ssm, name)
    assert v["DocumentVersion"] == "1"
    assert v["IsDefaultVersion"] is True
    assert v["DocumentFormat"] == "YAML"
    assert "VersionName" not in v


# --------------------------------------------------------------------------- #
# DeleteDocument
# --------------------------------------------------------------------------- #


def test_delete_one_version(ssm, fresh):
    name = fresh.plain("delv")
    create(ssm, name, cmd22("1"))
    ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST", VersionName="second")
    ssm.update_document(Name=name, Content=cmd22("3"), DocumentVersion="$LATEST")

    ssm.delete_document(Name=name, DocumentVersion="2")
    assert [v["DocumentVersion"] for v in versions(ssm, name)] == ["3", "1"]
    with raises_aws("InvalidDocumentVersion"):
        ssm.get_document(Name=name, DocumentVersion="2")
    with raises_aws("InvalidDocumentVersion"):
        ssm.get_document(Name=name, VersionName="second")
    with raises_aws("InvalidDocumentVersion"):
        describe(ssm, name, DocumentVersion="2")

    # deleting the latest: LatestVersion falls back, numbers are not reused
    ssm.delete_document(Name=name, DocumentVersion="3")
    d = describe(ssm, name)
    assert d["LatestVersion"] == "1"
    assert d["DefaultVersion"] == "1"
    new = ssm.update_document(Name=name, Content=cmd22("4"), DocumentVersion="$LATEST")["DocumentDescription"]
    assert new["DocumentVersion"] == "4"


def test_delete_version_by_name(ssm, fresh):
    name = fresh.plain("delvn")
    create(ssm, name, cmd22("1"), VersionName="keep")
    ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST", VersionName="drop")
    ssm.delete_document(Name=name, VersionName="drop")
    assert [v["DocumentVersion"] for v in versions(ssm, name)] == ["1"]


def test_delete_default_version_is_refused(ssm, fresh):
    name = fresh.plain("deldef")
    create(ssm, name, cmd22("1"), VersionName="first")
    ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST")
    with raises_aws("InvalidDocumentOperation") as ei:
        ssm.delete_document(Name=name, DocumentVersion="1")
    assert ei.value.response["Error"]["Message"] == "Default version of the document can't be deleted."
    with raises_aws("InvalidDocumentOperation"):
        ssm.delete_document(Name=name, VersionName="first")
    assert [v["DocumentVersion"] for v in versions(ssm, name)] == ["2", "1"]

    # after moving the default, the old default can go
    ssm.update_document_default_version(Name=name, DocumentVersion="2")
    ssm.delete_document(Name=name, DocumentVersion="1")
    assert [v["DocumentVersion"] for v in versions(ssm, name)] == ["2"]


def test_delete_only_version_by_version_is_refused(ssm, fresh):
    name = fresh.plain("delonly")
    create(ssm, name, cmd22("1"))
    with raises_aws("InvalidDocumentOperation"):
        ssm.delete_document(Name=name, DocumentVersion="1")
    assert describe(ssm, name)["DocumentVersion"] == "1"


def test_delete_all_versions(ssm, fresh):
    name = fresh.plain("delall")
    create(ssm, name, cmd22("1"), Tags=[{"Key": "k", "Value": "v"}])
    ssm.update_document(Name=name, Content=cmd22("2"), DocumentVersion="$LATEST")
    assert ssm.delete_document(Name=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with raises_aws("InvalidDocument"):
        describe(ssm, name)
    with raises_aws("InvalidDocument"):
        ssm.get_document(Name=name)
    with raises_aws("InvalidDocument"):
        ssm.list_document_versions(Name=name)
    assert list_names(ssm, Filters=[{"Key": "Name", "Values": [name]}]) == []
    with raises_aws("InvalidDocument"):
        ssm.delete_document(Name=name)

    # the name can be used again, starting from version 1 without the old tags
    d = create(ssm, name, cmd22("again"))
    assert d["DocumentVersion"] == "1"
    assert d["LatestVersion"] == "1"
    assert d["Tags"] == []
    assert ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name)["TagList"] == []


# --------------------------------------------------------------------------- #
# ListDocuments
# --------------------------------------------------------------------------- #


def test_list_default_includes_own_and_builtin(ssm, fresh):
    name = fresh.plain("mine")
    create(ssm, name, cmd22("mine"))
    docs = {d["Name"]: d for d in list_docs(ssm)}
    assert name in docs
    mine = docs[name]
    assert mine["Owner"] == ACCOUNT_ID
    assert mine["DocumentVersion"] == "1"
    assert mine["DocumentType"] == "Command"
    assert mine["SchemaVersion"] == "2.2"
    assert mine["DocumentFormat"] == "JSON"
    assert mine["PlatformTypes"] == ["Linux", "MacOS"]
    assert mine["Tags"] == []
    for field in ("Hash", "Status", "Description"):
        assert field not in mine, field
    for builtin in BUILTIN_NAMES:
        assert builtin in docs, builtin
        assert docs[builtin]["Owner"] == "Amazon", docs[builtin]


def test_list_owner_filters(ssm, fresh):
    name = fresh.plain("own")
    create(ssm, name, cmd22("own"))
    self_names = list_names(ssm, Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert name in self_names
    assert not set(self_names) & set(BUILTIN_NAMES)
    amazon = list_docs(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}])
    amazon_names = [d["Name"] for d in amazon]
    assert set(BUILTIN_NAMES) <= set(amazon_names)
    assert name not in amazon_names
    assert all(d["Owner"] == "Amazon" for d in amazon)


def test_list_name_prefix_filter(ssm, fresh):
    names = [fresh.plain(s) for s in ("a1", "a2", "b1")]
    for n in names:
        create(ssm, n, cmd22_simple(n))
    assert sorted(list_names(ssm, Filters=[{"Key": "Name", "Values": [fresh.token]}])) == sorted(names)
    assert sorted(list_names(ssm, Filters=[{"Key": "Name", "Values": [fresh.plain("a")]}])) == names[:2]
    # several values are ORed
    got = list_names(ssm, Filters=[{"Key": "Name", "Values": [fresh.plain("a1"), fresh.plain("b")]}])
    assert sorted(got) == sorted([names[0], names[2]])
    # prefix, not substring
    assert list_names(ssm, Filters=[{"Key": "Name", "Values": [fresh.token[3:]]}]) == []
    # built-ins by prefix
    aws_run = list_names(ssm, Filters=[{"Key": "Name", "Values": ["AWS-Run"]}])
    assert {"AWS-RunShellScript", "AWS-RunPowerShellScript", "AWS-RunDocument", "AWS-RunPatchBaseline"} <= set(
        aws_run
    )
    assert all(n.startswith("AWS-Run") for n in aws_run)


def test_list_type_platform_schema_filters(ssm, fresh):
    cmd, ps, legacy = fresh.plain("cmd"), fresh.plain("ps"), fresh.plain("legacy")
    auto, sess = fresh.plain("auto"), fresh.plain("sess")
    create(ssm, cmd, cmd22("c"))
    create(ssm, ps, cmd22("p", powershell=True))
    create(ssm, legacy, cmd12("l"))
    create(ssm, auto, AUTOMATION_YAML, doc_type="Automation", fmt="YAML")
    create(ssm, sess, SESSION_PORT_YAML, doc_type="Session", fmt="YAML")
    scope = {"Key": "Name", "Values": [fresh.token]}

    def names(*filters):
        return sorted(list_names(ssm, Filters=[scope, *filters]))

    assert names({"Key": "DocumentType", "Values": ["Command"]}) == sorted([cmd, ps, legacy])
    assert names({"Key": "DocumentType", "Values": ["Automation"]}) == [auto]
    assert names({"Key": "DocumentType", "Values": ["Session", "Automation"]}) == sorted([auto, sess])
    assert names({"Key": "DocumentType", "Values": ["Policy"]}) == []

    windows = names({"Key": "PlatformTypes", "Values": ["Windows"]})
    assert ps in windows and legacy in windows
    assert cmd not in windows
    assert cmd in names({"Key": "PlatformTypes", "Values": ["MacOS"]})
    assert legacy not in names({"Key": "PlatformTypes", "Values": ["MacOS"]})

    assert names({"Key": "SchemaVersion", "Values": ["1.2"]}) == [legacy]
    assert names({"Key": "SchemaVersion", "Values": ["2.2"]}) == sorted([cmd, ps])
    assert names({"Key": "SchemaVersion", "Values": ["0.3"]}) == [auto]

    # different keys are ANDed
    assert names(
        {"Key": "DocumentType", "Values": ["Command"]}, {"Key": "SchemaVersion", "Values": ["1.2"]}
    ) == [legacy]
    assert names(
        {"Key": "DocumentType", "Values": ["Automation"]}, {"Key": "SchemaVersion", "Values": ["1.2"]}
    ) == []

    # built-ins: AWS-GatherSoftwareInventory is the Policy document
    policy = list_names(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}, {"Key": "DocumentType", "Values": ["Policy"]}])
    assert "AWS-GatherSoftwareInventory" in policy
    assert "AWS-RunShellScript" not in policy
    sessions = list_names(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}, {"Key": "DocumentType", "Values": ["Session"]}])
    assert {"AWS-StartPortForwardingSession", "AWS-StartInteractiveCommand"} <= set(sessions)


def test_list_search_keyword(ssm, fresh):
    hit, miss = fresh.plain("needleinhay"), fresh.plain("plainhay")
    create(ssm, hit, cmd22_simple(hit))
    create(ssm, miss, cmd22_simple(miss))
    scope = {"Key": "Name", "Values": [fresh.token]}
    got = list_names(ssm, Filters=[scope, {"Key": "SearchKeyword", "Values": ["needle"]}])
    assert got == [hit]
    got = list_names(ssm, Filters=[{"Key": "SearchKeyword", "Values": [fresh.token[3:] + "-needle"]}])
    assert got == [hit]
    both = list_names(ssm, Filters=[scope, {"Key": "SearchKeyword", "Values": ["hay"]}])
    assert sorted(both) == sorted([hit, miss])


def test_list_tag_filter(ssm, fresh):
    a, b, c = fresh.plain("ta"), fresh.plain("tb"), fresh.plain("tc")
    create(ssm, a, cmd22_simple(a), Tags=[{"Key": "stage", "Value": "prod"}])
    create(ssm, b, cmd22_simple(b), Tags=[{"Key": "stage", "Value": "dev"}])
    create(ssm, c, cmd22_simple(c), Tags=[{"Key": "other", "Value": "prod"}])
    scope = {"Key": "Name", "Values": [fresh.token]}
    assert list_names(ssm, Filters=[scope, {"Key": "tag:stage", "Values": ["prod"]}]) == [a]
    assert sorted(list_names(ssm, Filters=[scope, {"Key": "tag:stage", "Values": ["prod", "dev"]}])) == sorted([a, b])
    assert list_names(ssm, Filters=[scope, {"Key": "tag:stage", "Values": ["qa"]}]) == []
    [ident] = list_docs(ssm, Filters=[scope, {"Key": "tag:other", "Values": ["prod"]}])
    assert ident["Name"] == c
    assert ident["Tags"] == [{"Key": "other", "Value": "prod"}]


def test_list_legacy_document_filter_list(ssm, fresh):
    cmd, auto = fresh.plain("lcmd"), fresh.plain("lauto")
    create(ssm, cmd, cmd22("x", powershell=True))
    create(ssm, auto, AUTOMATION_YAML, doc_type="Automation", fmt="YAML")
    assert list_names(ssm, DocumentFilterList=[{"key": "Name", "value": cmd}]) == [cmd]
    autos = list_names(ssm, DocumentFilterList=[{"key": "DocumentType", "value": "Automation"}])
    assert auto in autos and cmd not in autos
    own = list_names(ssm, DocumentFilterList=[{"key": "Owner", "value": "Self"}])
    assert cmd in own and "AWS-RunShellScript" not in own
    amazon = list_names(ssm, DocumentFilterList=[{"key": "Owner", "value": "Amazon"}])
    assert "AWS-RunShellScript" in amazon and cmd not in amazon
    win = list_names(ssm, DocumentFilterList=[{"key": "PlatformTypes", "value": "Windows"}])
    assert cmd in win and "AWS-RunPowerShellScript" in win and "AWS-RunShellScript" not in win


def test_list_paging_over_many_documents(ssm, fresh):
    names = sorted(fresh.plain(f"p{i:02d}") for i in range(55))
    for n in names:
        create(ssm, n, cmd22_simple(n))
    scope = [{"Key": "Name", "Values": [fresh.token]}]

    first = ssm.list_documents(Filters=scope, MaxResults=50)
    assert len(first["DocumentIdentifiers"]) == 50
    assert first.get("NextToken")
    second = ssm.list_documents(Filters=scope, MaxResults=50, NextToken=first["NextToken"])
    assert len(second["DocumentIdentifiers"]) == 5
    assert not second.get("NextToken")
    got = [d["Name"] for d in first["DocumentIdentifiers"] + second["DocumentIdentifiers"]]
    assert sorted(got) == names
    assert len(set(got)) == 55

    small = list_names(ssm, Filters=scope, MaxResults=7)
    assert sorted(small) == names and len(small) == 55

    # without MaxResults pages hold at most 50
    page = ssm.list_documents(Filters=scope)
    assert 1 <= len(page["DocumentIdentifiers"]) <= 50
    assert sorted(list_names(ssm, Filters=scope)) == names

    # an unfiltered listing pages through everything, built-ins included, without repeats
    everything = list_names(ssm, MaxResults=10)
    assert len(everything) == len(set(everything))
    assert set(names) <= set(everything)
    assert set(BUILTIN_NAMES) <= set(everything)


# --------------------------------------------------------------------------- #
# built-in documents
# --------------------------------------------------------------------------- #


def test_describe_builtin_run_shell_script(ssm):
    d = describe(ssm, "AWS-RunShellScript")
    assert d["Name"] == "AWS-RunShellScript"
    assert d["Owner"] == "Amazon"
    assert d["DocumentType"] == "Command"
    assert d["SchemaVersion"] == "1.2"
    assert d["Status"] == "Active"
    assert d["DocumentVersion"] == "1"
    assert d["LatestVersion"] == "1"
    assert d["DefaultVersion"] == "1"
    assert d["DocumentFormat"] == "JSON"
    assert d["HashType"] == "Sha256"
    assert d["PlatformTypes"] == ["Linux", "MacOS"]
    assert d["Tags"] == []
    params = {p["Name"]: p for p in d["Parameters"]}
    assert [p["Name"] for p in d["Parameters"]] == ["commands", "workingDirectory", "executionTimeout"]
    assert params["commands"]["Type"] == "StringList"
    assert "DefaultValue" not in params["commands"]
    assert params["workingDirectory"]["DefaultValue"] == ""
    assert params["executionTimeout"]["DefaultValue"] == "3600"

    got = ssm.get_document(Name="AWS-RunShellScript")
    assert d["Hash"] == sha256(got["Content"])
    body = json.loads(got["Content"])
    assert body["schemaVersion"] == "1.2"
    assert "aws:runShellScript" in body["runtimeConfig"]
    as_yaml = ssm.get_document(Name="AWS-RunShellScript", DocumentFormat="YAML")
    assert yaml.safe_load(as_yaml["Content"]) == body


def test_describe_builtin_by_arn_with_empty_account(ssm):
    d = describe(ssm, f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript")
    assert d["Owner"] == "Amazon"
    assert d["SchemaVersion"] == "1.2"


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_builtin_is_readable(ssm, name):
    d = describe(ssm, name)
    assert d["Owner"] == "Amazon"
    assert d["Status"] == "Active"
    got = ssm.get_document(Name=name)
    assert sha256(got["Content"]) == d["Hash"]
    json.loads(got["Content"])
    [v] = versions(ssm, name)
    assert v["DocumentVersion"] == "1" and v["IsDefaultVersion"] is True


def test_builtin_types(ssm):
    assert describe(ssm, "AWS-GatherSoftwareInventory")["DocumentType"] == "Policy"
    ps = describe(ssm, "AWS-RunPowerShellScript")
    assert ps["DocumentType"] == "Command" and ps["SchemaVersion"] == "1.2"
    assert ps["PlatformTypes"] == ["Windows", "Linux"]
    for n in ("AWS-StartPortForwardingSession", "AWS-StartPortForwardingSessionToRemoteHost", "AWS-StartInteractiveCommand"):
        d = describe(ssm, n)
        assert d["DocumentType"] == "Session" and d["SchemaVersion"] == "1.0", n
    pf = {p["Name"]: p for p in describe(ssm, "AWS-StartPortForwardingSession")["Parameters"]}
    assert pf["portNumber"]["DefaultValue"] == "80"
    assert pf["localPortNumber"]["DefaultValue"] == "0"
    remote = {p["Name"] for p in describe(ssm, "AWS-StartPortForwardingSessionToRemoteHost")["Parameters"]}
    assert "host" in remote


def test_builtins_are_read_only(ssm, fresh):
    with raises_aws("InvalidDocumentOperation"):
        ssm.update_document(Name="AWS-RunShellScript", Content=cmd22("x"), DocumentVersion="$LATEST")
    with raises_aws("InvalidDocumentOperation"):
        ssm.delete_document(Name="AWS-RunShellScript")
    with raises_aws("ValidationException", "DocumentAlreadyExists"):
        ssm.create_document(Name="AWS-RunShellScript", Content=cmd22("x"), DocumentType="Command")
    with raises_aws("InvalidDocumentOperation", "InvalidDocument"):
        ssm.update_document_default_version(Name="AWS-RunShellScript", DocumentVersion="1")
    with raises_aws("InvalidDocumentOperation", "InvalidDocument", "InvalidResourceId"):
        ssm.add_tags_to_resource(ResourceType="Document", ResourceId="AWS-RunShellScript", Tags=[{"Key": "a", "Value": "b"}])
    d = describe(ssm, "AWS-RunShellScript")
    assert d["Owner"] == "Amazon" and d["LatestVersion"] == "1" and d["Tags"] == []


def test_account_can_own_session_manager_run_shell(dev_server):
    """SSM-SessionManagerRunShell is listed as a built-in until an account creates its own."""
    acct = dev_account()
    ssm = acct_client(dev_server, acct)
    before = describe(ssm, "SSM-SessionManagerRunShell")
    assert before["Owner"] == "Amazon"
    assert before["DocumentType"] == "Session"

    d = create(ssm, "SSM-SessionManagerRunShell", SESSION_SHELL_JSON, doc_type="Session")
    assert d["Owner"] == acct
    assert d["Hash"] == sha256(SESSION_SHELL_JSON)
    after = describe(ssm, "SSM-SessionManagerRunShell")
    assert after["Owner"] == acct
    assert after["DocumentType"] == "Session"
    assert after["Description"] == "My session preferences"
    assert ssm.get_document(Name="SSM-SessionManagerRunShell")["Content"] == SESSION_SHELL_JSON

    listed = [x for x in list_docs(ssm) if x["Name"] == "SSM-SessionManagerRunShell"]
    assert [x["Owner"] for x in listed] == [acct]
    assert "SSM-SessionManagerRunShell" in list_names(ssm, Filters=[{"Key": "Owner", "Values": ["Self"]}])
    with raises_aws("DocumentAlreadyExists"):
        create(ssm, "SSM-SessionManagerRunShell", SESSION_SHELL_JSON.replace("15", "20"), doc_type="Session")

    # another account still sees the built-in
    other = acct_client(dev_server, dev_account())
    assert describe(other, "SSM-SessionManagerRunShell")["Owner"] == "Amazon"

    # deleting the account's own document brings the built-in back
    ssm.delete_document(Name="SSM-SessionManagerRunShell")
    assert describe(ssm, "SSM-SessionManagerRunShell")["Owner"] == "Amazon"


def test_update_session_manager_preferences(dev_server):
    """The documented way to change Session Manager preferences from the command line is
    `aws ssm update-document --name SSM-SessionManagerRunShell --document-version '$LATEST'`
    (user guide: "Update Session Manager preferences (command line)")."""
    acct = dev_account()
    ssm = acct_client(dev_server, acct)
    create(ssm, "SSM-SessionManagerRunShell", SESSION_SHELL_JSON, doc_type="Session")
    new = SESSION_SHELL_JSON.replace('"15"', '"30"')
    d = ssm.update_document(Name="SSM-SessionManagerRunShell", Content=new, DocumentVersion="$LATEST")[
        "DocumentDescription"
    ]
    assert d["DocumentVersion"] == "2"
    ssm.update_document_default_version(Name="SSM-SessionManagerRunShell", DocumentVersion="2")
    assert ssm.get_document(Name="SSM-SessionManagerRunShell")["Content"] == new
    assert describe(ssm, "SSM-SessionManagerRunShell")["Owner"] == acct


# --------------------------------------------------------------------------- #
# sharing
# --------------------------------------------------------------------------- #


@pytest.fixture
def accounts(dev_server):
    a, b, c = dev_account(), dev_account(), dev_account()
    return (
        (a, acct_client(dev_server, a)),
        (b, acct_client(dev_server, b)),
        (c, acct_client(dev_server, c)),
    )


def share(ssm, name, add=(), remove=(), **kw):
    args = dict(Name=name, PermissionType="Share", **kw)
    if add:
        args["AccountIdsToAdd"] = list(add)
    if remove:
        args["AccountIdsToRemove"] = list(remove)
    return ssm.modify_document_permission(**args)


def perms(ssm, name):
    return ssm.describe_document_permission(Name=name, PermissionType="Share")


def test_dev_accounts_are_isolated(accounts, fresh):
    (a, ssm_a), (b, ssm_b), _ = accounts
    name = fresh.plain("iso")
    d = create(ssm_a, name, cmd22("iso"))
    assert d["Owner"] == a
    with raises_aws("InvalidDocument"):
        describe(ssm_b, name)
    # B may create a document with the same name
    assert create(ssm_b, name, cmd22("other"))["Owner"] == b
    assert describe(ssm_a, name)["Description"] == "Say iso"
    assert describe(ssm_b, name)["Description"] == "Say other"


def test_share_with_one_account(accounts, fresh):
    (a, ssm_a), (b, ssm_b), (c, ssm_c) = accounts
    name = fresh.plain("shared")
    c1, c2 = cmd22("shared one"), cmd22("shared two")
    create(ssm_a, name, c1)
    ssm_a.update_document(Name=name, Content=c2, DocumentVersion="$LATEST")
    arn = doc_arn(a, name)

    unshared = perms(ssm_a, name)
    assert unshared.get("AccountIds", []) == []
    assert unshared.get("AccountSharingInfoList", []) == []
    with raises_aws("InvalidDocument"):
        describe(ssm_b, arn)

    share(ssm_a, name, add=[b])
    p = perms(ssm_a, name)
    assert p["AccountIds"] == [b]
    assert [x["AccountId"] for x in p["AccountSharingInfoList"]] == [b]

    # B uses the ARN
    d = describe(ssm_b, arn)
    assert d["Owner"] == a
    assert d["Hash"] == sha256(c1)
    assert d["DocumentVersion"] == "1"
    assert ssm_b.get_document(Name=arn)["Content"] == c1
    assert ssm_b.get_document(Name=arn, DocumentVersion="2")["Content"] == c2
    assert [v["DocumentVersion"] for v in versions(ssm_b, arn)] == ["2", "1"]

    private = list_docs(ssm_b, Filters=[{"Key": "Owner", "Values": ["Private"]}])
    mine = [x for x in private if x["Name"] == arn]
    assert len(mine) == 1, private
    assert mine[0]["Owner"] == a
    assert arn in list_names(ssm_b)
    assert arn not in list_names(ssm_b, Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert name not in list_names(ssm_b)

    # not by plain name
    with raises_aws("InvalidDocument"):
        describe(ssm_b, name)
    with raises_aws("InvalidDocument"):
        ssm_b.get_document(Name=name)

    # B cannot change it
    with raises_aws("InvalidDocument"):
        ssm_b.update_document(Name=name, Content=cmd22("evil"), DocumentVersion="$LATEST")
    with raises_aws("InvalidDocument"):
        ssm_b.delete_document(Name=name)
    with raises_aws("InvalidDocument"):
        share(ssm_b, name, add=[c])
    with raises_aws("ValidationException", "InvalidDocument", "InvalidDocumentOperation"):
        ssm_b.update_document(Name=arn, Content=cmd22("evil"), DocumentVersion="$LATEST")
    with raises_aws("ValidationException", "InvalidDocument", "InvalidDocumentOperation"):
        ssm_b.delete_document(Name=arn)
    assert describe(ssm_a, name)["LatestVersion"] == "2"

    # C sees nothing
    with raises_aws("InvalidDocument"):
        describe(ssm_c, arn)
    assert arn not in list_names(ssm_c)

    # unshare
    share(ssm_a, name, remove=[b])
    assert perms(ssm_a, name).get("AccountIds", []) == []
    with raises_aws("InvalidDocument"):
        describe(ssm_b, arn)
    with raises_aws("InvalidDocument"):
        ssm_b.get_document(Name=arn)
    assert arn not in list_names(ssm_b, Filters=[{"Key": "Owner", "Values": ["Private"]}])


def test_owner_may_use_own_arn(accounts, fresh):
    (a, ssm_a), _, _ = accounts
    name = fresh.plain("ownarn")
    content = cmd22("own")
    create(ssm_a, name, content)
    assert describe(ssm_a, doc_arn(a, name))["Hash"] == sha256(content)
    assert ssm_a.get_document(Name=doc_arn(a, name))["Content"] == content


def test_share_publicly(accounts, fresh):
    (a, ssm_a), (b, ssm_b), (c, ssm_c) = accounts
    name = fresh.plain("public")
    create(ssm_a, name, cmd22("public"))
    arn = doc_arn(a, name)
    share(ssm_a, name, add=["All"])
    p = perms(ssm_a, name)
    assert p["AccountIds"] == ["all"]
    assert [x["AccountId"] for x in p["AccountSharingInfoList"]] == ["all"]
    for ssm in (ssm_b, ssm_c):
        assert describe(ssm, arn)["Owner"] == a
        assert ssm.get_document(Name=arn)["Content"] == cmd22("public")
    public = list_names(ssm_c, Filters=[{"Key": "Owner", "Values": ["Public"]}])
    assert arn in public

    share(ssm_a, name, remove=["all"])
    assert perms(ssm_a, name).get("AccountIds", []) == []
    with raises_aws("InvalidDocument"):
        describe(ssm_c, arn)


def test_delete_while_shared(accounts, fresh):
    (a, ssm_a), (b, ssm_b), _ = accounts
    name = fresh.plain("delshared")
    create(ssm_a, name, cmd22("x"))
    share(ssm_a, name, add=[b])
    with raises_aws("InvalidDocumentOperation"):
        ssm_a.delete_document(Name=name)
    assert describe(ssm_b, doc_arn(a, name))["Owner"] == a
    share(ssm_a, name, remove=[b])
    ssm_a.delete_document(Name=name)
    with raises_aws("InvalidDocument"):
        describe(ssm_a, name)


def test_share_mixing_all_and_ids(accounts, fresh):
    (a, ssm_a), (b, _), _ = accounts
    name = fresh.plain("mix")
    create(ssm_a, name, cmd22("x"))
    with raises_aws("DocumentPermissionLimit"):
        share(ssm_a, name, add=["all", b])
    assert perms(ssm_a, name).get("AccountIds", []) == []


def test_share_several_accounts_and_remove_wins(accounts, fresh):
    (a, ssm_a), (b, ssm_b), (c, ssm_c) = accounts
    name = fresh.plain("several")
    create(ssm_a, name, cmd22("x"))
    share(ssm_a, name, add=[b, c])
    assert sorted(perms(ssm_a, name)["AccountIds"]) == sorted([b, c])
    # remove wins over add for the same id
    share(ssm_a, name, add=[c], remove=[c])
    assert perms(ssm_a, name)["AccountIds"] == [b]
    with raises_aws("InvalidDocument"):
        describe(ssm_c, doc_arn(a, name))
    assert describe(ssm_b, doc_arn(a, name))["Owner"] == a


def test_share_unknown_document(accounts, fresh):
    (a, ssm_a), (b, _), _ = accounts
    with raises_aws("InvalidDocument"):
        share(ssm_a, fresh.plain("nope"), add=[b])
    with raises_aws("InvalidDocument"):
        perms(ssm_a, fresh.plain("nope"))


# --------------------------------------------------------------------------- #
# tags
# --------------------------------------------------------------------------- #


def test_document_tags(ssm, fresh):
    name = fresh.plain("tags")
    create(ssm, name, cmd22("t"), Tags=[{"Key": "a", "Value": "1"}])

    def tags():
        out = ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name)["TagList"]
        return sorted((t["Key"], t["Value"]) for t in out)

    assert tags() == [("a", "1")]
    ssm.add_tags_to_resource(
        ResourceType="Document", ResourceId=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "one"}]
    )
    assert tags() == [("a", "one"), ("b", "2")]
    assert sorted((t["Key"], t["Value"]) for t in describe(ssm, name)["Tags"]) == [("a", "one"), ("b", "2")]
    assert list_names(ssm, Filters=[{"Key": "tag:b", "Values": ["2"]}, {"Key": "Name", "Values": [name]}]) == [name]

    ssm.remove_tags_from_resource(ResourceType="Document", ResourceId=name, TagKeys=["a", "not-there"])
    assert tags() == [("b", "2")]
    assert list_names(ssm, Filters=[{"Key": "tag:a", "Values": ["one"]}, {"Key": "Name", "Values": [name]}]) == []

    # tags belong to the document, not a version
    ssm.update_document(Name=name, Content=cmd22("t2"), DocumentVersion="$LATEST")
    assert tags() == [("b", "2")]
    assert [t["Key"] for t in describe(ssm, name, DocumentVersion="2")["Tags"]] == ["b"]


def test_document_tags_missing_document(ssm, fresh):
    missing = fresh.plain("missing")
    with raises_aws("InvalidResourceId"):
        ssm.add_tags_to_resource(ResourceType="Document", ResourceId=missing, Tags=[{"Key": "a", "Value": "b"}])
    with raises_aws("InvalidResourceId"):
        ssm.list_tags_for_resource(ResourceType="Document", ResourceId=missing)
    with raises_aws("InvalidResourceId"):
        ssm.remove_tags_from_resource(ResourceType="Document", ResourceId=missing, TagKeys=["a"])


def test_document_tags_do_not_leak_to_parameters(ssm, fresh):
    """A parameter and a document of the same name keep separate tags."""
    name = fresh.plain("same")
    create(ssm, name, cmd22("t"), Tags=[{"Key": "kind", "Value": "document"}])
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "kind", "Value": "parameter"}])
    doc_tags = ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name)["TagList"]
    par_tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert doc_tags == [{"Key": "kind", "Value": "document"}]
    assert par_tags == [{"Key": "kind", "Value": "parameter"}]


# --------------------------------------------------------------------------- #
# the aws CLI
# --------------------------------------------------------------------------- #


def test_cli_document_round_trip(server, fresh, tmp_path):
    name = fresh.plain("cli")
    path = tmp_path / "doc.yaml"
    path.write_text(CMD22_YAML)
    out = server.aws(
        "ssm",
        "create-document",
        "--name",
        name,
        "--content",
        f"file://{path}",
        "--document-type",
        "Command",
        "--document-format",
        "YAML",
        "--version-name",
        "cli-1",
        "--tags",
        "Key=via,Value=cli",
    )
    d = out["DocumentDescription"]
    assert d["Name"] == name
    assert d["Status"] == "Creating"
    assert d["Hash"] == sha256(CMD22_YAML)
    assert d["DocumentFormat"] == "YAML"
    assert d["VersionName"] == "cli-1"
    assert d["Owner"] == ACCOUNT_ID
    assert d["Tags"] == [{"Key": "via", "Value": "cli"}]
    assert isinstance(d["CreatedDate"], (int, float)), d["CreatedDate"]

    got = server.aws("ssm", "get-document", "--name", name, "--document-format", "JSON")
    assert got["Name"] == name
    assert got["DocumentFormat"] == "JSON"
    assert got["DocumentVersion"] == "1"
    assert json.loads(got["Content"]) == yaml.safe_load(CMD22_YAML)

    raw = server.aws("ssm", "get-document", "--name", name)
    assert raw["Content"] == CMD22_YAML
    assert raw["DocumentFormat"] == "YAML"

    desc = server.aws("ssm", "describe-document", "--name", name)["Document"]
    assert desc["Name"] == name
    assert desc["Hash"] == sha256(CMD22_YAML)
    assert desc["Status"] == "Active"
    assert desc["PlatformTypes"] == ["Linux", "MacOS"]
    assert [p["Name"] for p in desc["Parameters"]] == ["greeting", "targets"]

    listed = server.aws("ssm", "list-documents", "--filters", f"Key=Name,Values={name}")
    assert [x["Name"] for x in listed["DocumentIdentifiers"]] == [name]
    assert listed["DocumentIdentifiers"][0]["Owner"] == ACCOUNT_ID

    builtin = server.aws("ssm", "describe-document", "--name", "AWS-RunShellScript")["Document"]
    assert builtin["Owner"] == "Amazon"
    assert builtin["SchemaVersion"] == "1.2"
    assert [p["Name"] for p in builtin["Parameters"]] == ["commands", "workingDirectory", "executionTimeout"]


def test_cli_list_documents_paginates(server, fresh):
    names = sorted(fresh.plain(f"c{i}") for i in range(4))
    for n in names:
        server.ssm().create_document(Name=n, Content=cmd22_simple(n), DocumentType="Command")
    # the CLI follows NextToken itself; --page-size makes it take several pages
    out = server.aws("ssm", "list-documents", "--filters", f"Key=Name,Values={fresh.token}", "--page-size", "1")
    assert sorted(x["Name"] for x in out["DocumentIdentifiers"]) == names
    amazon = server.aws("ssm", "list-documents", "--filters", "Key=Owner,Values=Amazon")
    assert set(BUILTIN_NAMES) <= {x["Name"] for x in amazon["DocumentIdentifiers"]}


def test_cli_errors(server, fresh):
    from conftest import AwsCliError

    with pytest.raises(AwsCliError) as ei:
        server.aws("ssm", "describe-document", "--name", fresh.plain("absent"))
    assert "InvalidDocument" in ei.value.stderr


# --------------------------------------------------------------------------- #
# persistence
# --------------------------------------------------------------------------- #


def test_documents_survive_restart(server_factory, make_fresh):
    srv = server_factory(extra_args=("--dev",))
    fresh = make_fresh()
    ssm = srv.ssm()
    name, shared = fresh.plain("persist"), fresh.plain("persist-shared")
    c1, c2 = cmd22("p1"), cmd22("p2")
    create(ssm, name, c1, VersionName="first", Tags=[{"Key": "keep", "Value": "me"}])
    ssm.update_document(Name=name, Content=c2, DocumentVersion="$LATEST", VersionName="second")
    ssm.update_document(Name=name, Content=cmd22("p3"), DocumentVersion="$LATEST")
    ssm.update_document_default_version(Name=name, DocumentVersion="2")
    ssm.delete_document(Name=name, DocumentVersion="3")
    create(ssm, fresh.plain("yaml"), CMD22_YAML, fmt="YAML")
    other = dev_account()
    create(ssm, shared, cmd22("s"))
    share(ssm, shared, add=[other])
    gone = fresh.plain("gone")
    create(ssm, gone, cmd22("g"))
    ssm.delete_document(Name=gone)

    srv.restart()
    ssm = srv.ssm()

    d = describe(ssm, name)
    assert d["DefaultVersion"] == "2"
    assert d["LatestVersion"] == "2"
    assert d["DocumentVersion"] == "2"
    assert d["VersionName"] == "second"
    assert d["Hash"] == sha256(c2)
    assert d["Status"] == "Active"
    assert d["Tags"] == [{"Key": "keep", "Value": "me"}]
    assert ssm.get_document(Name=name, VersionName="first")["Content"] == c1
    vs = versions(ssm, name)
    assert [(v["DocumentVersion"], v["IsDefaultVersion"]) for v in vs] == [("2", True), ("1", False)]
    # the version counter survived too
    assert ssm.update_document(Name=name, Content=cmd22("p4"), DocumentVersion="$LATEST")["DocumentDescription"][
        "DocumentVersion"
    ] == "4"

    y = ssm.get_document(Name=fresh.plain("yaml"))
    assert y["Content"] == CMD22_YAML and y["DocumentFormat"] == "YAML"
    with raises_aws("InvalidDocument"):
        describe(ssm, gone)
    assert perms(ssm, shared)["AccountIds"] == [other]
    assert describe(acct_client(srv, other), doc_arn(ACCOUNT_ID, shared))["Owner"] == ACCOUNT_ID
    assert set(BUILTIN_NAMES) <= set(list_names(ssm, Filters=[{"Key": "Owner", "Values": ["Amazon"]}]))
