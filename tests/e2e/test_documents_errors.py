"""SSM document error cases: every one a 4xx with the AWS error code (HTTP 400)."""

from __future__ import annotations

import json

import pytest

from conftest import raises_aws
from doc_helpers import (
    AUTOMATION_YAML,
    SESSION_PORT_YAML,
    cmd22,
    cmd22_simple,
    create,
    describe,
    list_names,
)


@pytest.fixture
def raw(server):
    """A client without botocore's own parameter checks, so the server sees bad input."""
    return server.ssm(validate=False)


def message(excinfo) -> str:
    return excinfo.value.response["Error"].get("Message", "")


def step(action="aws:runShellScript", name="run", inputs=None):
    return {"action": action, "name": name, "inputs": inputs if inputs is not None else {"runCommand": ["echo hi"]}}


def doc22(**over) -> str:
    doc = {"schemaVersion": "2.2", "description": "d", "mainSteps": [step()]}
    doc.update(over)
    return json.dumps(doc)


# --------------------------------------------------------------------------- #
# CreateDocument
# --------------------------------------------------------------------------- #


def test_document_already_exists(ssm, fresh):
    name = fresh.plain("exists")
    create(ssm, name, cmd22("1"))
    with raises_aws("DocumentAlreadyExists") as ei:
        create(ssm, name, cmd22("2"))
    assert name in message(ei)
    assert describe(ssm, name)["Hash"] != ""
    assert describe(ssm, name)["Description"] == "Say 1"


def test_content_too_large(ssm, fresh):
    name = fresh.plain("big")
    big = json.dumps(
        {
            "schemaVersion": "2.2",
            "description": "x" * (70 * 1024),
            "mainSteps": [step()],
        }
    )
    assert len(big.encode()) > 65536
    with raises_aws("MaxDocumentSizeExceeded"):
        create(ssm, name, big)
    with raises_aws("InvalidDocument"):
        describe(ssm, name)

    # an update over the limit is refused too
    create(ssm, name, cmd22("small"))
    with raises_aws("MaxDocumentSizeExceeded"):
        ssm.update_document(Name=name, Content=big, DocumentVersion="$LATEST")
    assert describe(ssm, name)["LatestVersion"] == "1"


def test_content_just_under_the_limit(ssm, fresh):
    name = fresh.plain("nearly")
    skeleton = json.dumps({"schemaVersion": "2.2", "description": "", "mainSteps": [step()]})
    content = skeleton.replace('"description": ""', '"description": "' + "y" * (65536 - len(skeleton)) + '"')
    assert len(content.encode()) == 65536
    assert create(ssm, name, content)["Hash"]


def test_malformed_json(ssm, fresh):
    with raises_aws("InvalidDocumentContent") as ei:
        create(ssm, fresh.plain("badjson"), '{"schemaVersion": "2.2", "mainSteps": [')
    assert "JSON not well-formed" in message(ei)
    # YAML sent as JSON (the classic mistake)
    with raises_aws("InvalidDocumentContent") as ei:
        create(ssm, fresh.plain("yamlasjson"), "schemaVersion: '2.2'\nmainSteps: []\n")
    assert "JSON not well-formed" in message(ei)


def test_update_with_wrong_format(ssm, fresh):
    name = fresh.plain("updfmt")
    create(ssm, name, cmd22("1"))
    yaml_text = "schemaVersion: '2.2'\nmainSteps:\n  - action: aws:runShellScript\n    name: x\n    inputs: {runCommand: [ls]}\n"
    with raises_aws("InvalidDocumentContent") as ei:
        ssm.update_document(Name=name, Content=yaml_text, DocumentVersion="$LATEST")
    assert "JSON not well-formed" in message(ei)
    with raises_aws("InvalidDocumentContent"):
        ssm.update_document(Name=name, Content=doc22(mainSteps=[step(action="aws:nope")]), DocumentVersion="$LATEST")
    assert describe(ssm, name)["LatestVersion"] == "1"


def test_malformed_yaml(ssm, fresh):
    bad = "schemaVersion: '2.2'\nmainSteps:\n  - action: aws:runShellScript\n    name: [unclosed\n"
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("badyaml"), bad, fmt="YAML")
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("scalar"), "just a string\n", fmt="YAML")


def test_content_not_an_object(ssm, fresh):
    for i, content in enumerate(["[]", '"text"', "42", "null"]):
        with raises_aws("InvalidDocumentContent"):
            create(ssm, fresh.plain(f"notobj{i}"), content)


def test_missing_schema_version(ssm, fresh):
    content = json.dumps({"description": "d", "mainSteps": [step()]})
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("noschema"), content)
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("noschemay"), AUTOMATION_YAML.replace("schemaVersion: '0.3'\n", ""), doc_type="Automation", fmt="YAML")


def test_unknown_action(ssm, fresh):
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("unkact"), doc22(mainSteps=[step(action="aws:doesNotExist")]))


def test_duplicate_step_names(ssm, fresh):
    content = doc22(mainSteps=[step(name="same"), step(name="same", inputs={"runCommand": ["echo 2"]})])
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("dupstep"), content)


def test_step_problems(ssm, fresh):
    bad_steps = [
        [{"name": "noaction", "inputs": {"runCommand": ["x"]}}],
        [{"action": "aws:runShellScript", "inputs": {"runCommand": ["x"]}}],
        [{"action": "aws:runShellScript", "name": "noinputs"}],
        [step(inputs=["not", "an", "object"])],
    ]
    for i, steps in enumerate(bad_steps):
        with raises_aws("InvalidDocumentContent"):
            create(ssm, fresh.plain(f"step{i}"), doc22(mainSteps=steps))


def test_undeclared_parameter(ssm, fresh):
    content = doc22(
        parameters={"declared": {"type": "String", "default": "x"}},
        mainSteps=[step(inputs={"runCommand": ["echo {{ declared }} {{ PackageVersion }}"]})],
    )
    with raises_aws("InvalidDocumentContent") as ei:
        create(ssm, fresh.plain("undecl"), content)
    assert "PackageVersion" in message(ei)
    assert message(ei) == 'Parameter "PackageVersion" is not declared.'


def test_references_that_are_not_parameters(ssm, fresh):
    """{{ssm:...}} references and {{global:...}} pseudo-parameters need no declaration."""
    content = doc22(mainSteps=[step(inputs={"runCommand": ["echo {{ssm:/my/param}}", "echo {{ ssm:other }}"]})])
    create(ssm, fresh.plain("ssmref"), content)
    auto = (
        "schemaVersion: '0.3'\n"
        "mainSteps:\n"
        "  - name: first\n"
        "    action: aws:executeAwsApi\n"
        "    inputs:\n"
        "      Service: ssm\n"
        "      Api: GetParameter\n"
        "      Name: '/acct/{{ global:ACCOUNT_ID }}/{{ global:REGION }}/{{ automation:EXECUTION_ID }}'\n"
        "    outputs:\n"
        "      - Name: Val\n"
        "        Selector: $.Parameter.Value\n"
        "        Type: String\n"
        "  - name: second\n"
        "    action: aws:sleep\n"
        "    inputs:\n"
        "      Duration: '{{ first.Val }}'\n"
        "outputs:\n"
        "  - first.Val\n"
    )
    create(ssm, fresh.plain("autoref"), auto, doc_type="Automation", fmt="YAML")


def test_bad_parameter_definitions(ssm, fresh):
    bad = [
        {"p": {"type": "Number"}},
        {"p": {"description": "no type"}},
        {"p": {"type": "String", "default": ["not", "a", "string"]}},
        {"p": {"type": "StringList", "default": "not a list"}},
        {"p": {"type": "String", "notAKey": True}},
    ]
    for i, params in enumerate(bad):
        content = doc22(parameters=params, mainSteps=[step(inputs={"runCommand": ["echo {{ p }}"]})])
        with raises_aws("InvalidDocumentContent"):
            create(ssm, fresh.plain(f"param{i}"), content)


def test_integer_parameter_in_run_command(ssm, fresh):
    """User guide, "SSM document parameter type examples": an Integer parameter cannot be
    referenced in aws:runShellScript's runCommand; the document fails to validate."""
    content = doc22(
        parameters={"n": {"type": "Integer", "default": 3}},
        mainSteps=[step(inputs={"runCommand": ["echo {{ n }}"]})],
    )
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("intcmd"), content)


def test_automation_parameter_types(ssm, fresh):
    """Automation documents accept the richer types; a bad default is still refused."""
    ok = (
        "schemaVersion: '0.3'\n"
        "parameters:\n"
        "  Count: {type: Integer, default: 3}\n"
        "  Flag: {type: Boolean, default: true}\n"
        "  Map: {type: StringMap, default: {}}\n"
        "  Rows: {type: MapList, default: []}\n"
        "mainSteps:\n"
        "  - name: nap\n"
        "    action: aws:sleep\n"
        "    inputs: {Duration: PT0S}\n"
    )
    d = create(ssm, fresh.plain("autotypes"), ok, doc_type="Automation", fmt="YAML")
    assert [(p["Name"], p["Type"]) for p in d["Parameters"]] == [
        ("Count", "Integer"),
        ("Flag", "Boolean"),
        ("Map", "StringMap"),
        ("Rows", "MapList"),
    ]
    bad = ok.replace("default: 3", "default: three")
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("autobad"), bad, doc_type="Automation", fmt="YAML")


def test_schema_version_not_valid_for_type(ssm, fresh):
    with raises_aws("InvalidDocumentSchemaVersion"):
        create(ssm, fresh.plain("cmd30"), doc22(schemaVersion="3.0"))
    with raises_aws("InvalidDocumentSchemaVersion") as ei:
        create(ssm, fresh.plain("sess22"), SESSION_PORT_YAML.replace("'1.0'", "'2.2'"), doc_type="Session", fmt="YAML")
    assert "Session" in message(ei)
    assert message(ei) == "2.2 is not a valid schema version for Session document type"
    with raises_aws("InvalidDocumentSchemaVersion", "InvalidDocumentContent"):
        create(ssm, fresh.plain("auto22"), AUTOMATION_YAML.replace("'0.3'", "'2.2'"), doc_type="Automation", fmt="YAML")


def test_automation_unknown_schema_version(ssm, fresh):
    """Observed on AWS (terraform-provider-aws PR #21213): an Automation document with
    schemaVersion 3.0 fails with InvalidDocumentContent "Document schema version is invalid. Value: 3.0"."""
    with raises_aws("InvalidDocumentContent") as ei:
        create(ssm, fresh.plain("auto30"), AUTOMATION_YAML.replace("'0.3'", "'3.0'"), doc_type="Automation", fmt="YAML")
    assert message(ei) == "Document schema version is invalid. Value: 3.0"


def test_session_type_problems(ssm, fresh):
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("nosesstype"), SESSION_PORT_YAML.replace("sessionType: Port\n", ""), doc_type="Session", fmt="YAML")
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("badsesstype"), SESSION_PORT_YAML.replace("Port", "Teleport"), doc_type="Session", fmt="YAML")


def test_automation_needs_steps(ssm, fresh):
    content = "schemaVersion: '0.3'\ndescription: nothing\nmainSteps: []\n"
    with raises_aws("InvalidDocumentContent"):
        create(ssm, fresh.plain("nosteps"), content, doc_type="Automation", fmt="YAML")


@pytest.mark.parametrize(
    "name",
    ["AWS-Mine", "aws-lower", "amazonThing", "Amazon-Doc", "AMZN-x", "AWSEC2-Thing", "AWSSupport-Thing", "AWSConfigRemediation-X"],
)
def test_reserved_names(ssm, name):
    with raises_aws("ValidationException"):
        create(ssm, name, cmd22_simple(name))
    with raises_aws("InvalidDocument"):
        describe(ssm, name)


def test_ssm_prefix_is_not_reserved(ssm, fresh):
    name = "SSM-" + fresh.plain("mine")
    assert create(ssm, name, cmd22_simple(name))["Name"] == name


@pytest.mark.parametrize("bad", ["ab", "has space", "slash/name", "colon:name", "ünïcode", "x" * 129, "star*"])
def test_bad_names(raw, bad):
    with raises_aws("ValidationException") as ei:
        raw.create_document(Name=bad, Content=cmd22_simple("n"), DocumentType="Command")
    assert "'name'" in message(ei), message(ei)


def test_name_edge_lengths(ssm, fresh):
    three = fresh.token[-3:].replace("-", "_")
    long = (fresh.token + "_" * 128)[:128]
    for n in (f"x{three}"[:3], long):
        assert create(ssm, n, cmd22_simple(n))["Name"] == n


def test_bad_document_version_values(raw, fresh):
    ssm = raw
    name = fresh.plain("verval")
    create(ssm, name, cmd22("v"))
    for bad in ("abc", "0", "-1", "1.0", "$latest"):
        with raises_aws("ValidationException"):
            ssm.get_document(Name=name, DocumentVersion=bad)
        with raises_aws("ValidationException"):
            describe(ssm, name, DocumentVersion=bad)
    with raises_aws("ValidationException"):
        ssm.update_document_default_version(Name=name, DocumentVersion="$LATEST")
    with raises_aws("ValidationException"):
        ssm.update_document_default_version(Name=name, DocumentVersion="abc")
    with raises_aws("ValidationException"):
        ssm.update_document(Name=name, Content=cmd22("w"), DocumentVersion="abc")
    with raises_aws("ValidationException"):
        ssm.delete_document(Name=name, DocumentVersion="abc")


def test_bad_optional_fields(raw, fresh):
    for kw in (
        {"VersionName": "has space"},
        {"VersionName": "x" * 129},
        {"TargetType": "no-leading-slash"},
        {"DisplayName": "bad<chars>"},
        {"DocumentFormat": "XML"},
        {"DocumentType": "Spreadsheet"},
    ):
        args = dict(Name=fresh.plain("opt"), Content=cmd22_simple("o"), DocumentType="Command")
        args.update(kw)
        with raises_aws("ValidationException"):
            raw.create_document(**args)


def test_unknown_document(ssm, fresh):
    name = fresh.plain("unknown")
    with raises_aws("InvalidDocument") as ei:
        describe(ssm, name)
    assert "does not exist" in message(ei) or "No matching value" in message(ei), message(ei)
    with raises_aws("InvalidDocument"):
        ssm.get_document(Name=name)
    with raises_aws("InvalidDocument"):
        ssm.list_document_versions(Name=name)
    with raises_aws("InvalidDocument"):
        ssm.update_document(Name=name, Content=cmd22("u"), DocumentVersion="$LATEST")
    with raises_aws("InvalidDocument"):
        ssm.update_document_default_version(Name=name, DocumentVersion="1")
    with raises_aws("InvalidDocument"):
        ssm.delete_document(Name=name)
    with raises_aws("InvalidDocument"):
        describe(ssm, f"arn:aws:ssm:us-east-1:123456789012:document/{name}")


def test_unknown_version(ssm, fresh):
    name = fresh.plain("unkver")
    create(ssm, name, cmd22("v"), VersionName="only")
    with raises_aws("InvalidDocumentVersion"):
        ssm.get_document(Name=name, DocumentVersion="2")
    with raises_aws("InvalidDocumentVersion"):
        describe(ssm, name, DocumentVersion="5")
    with raises_aws("InvalidDocumentVersion"):
        ssm.get_document(Name=name, VersionName="nope")
    with raises_aws("InvalidDocumentVersion"):
        describe(ssm, name, VersionName="nope")
    with raises_aws("InvalidDocumentVersion"):
        ssm.delete_document(Name=name, DocumentVersion="9")
    with raises_aws("InvalidDocumentVersion", "InvalidDocument"):
        # version and version name pointing at different versions
        ssm.get_document(Name=name, DocumentVersion="2", VersionName="only")


def test_permission_type_enum(ssm, fresh):
    name = fresh.plain("permtype")
    create(ssm, name, cmd22("p"))
    with raises_aws("ValidationException"):
        ssm.modify_document_permission(Name=name, PermissionType="Read", AccountIdsToAdd=["111111111111"])
    with raises_aws("ValidationException"):
        ssm.describe_document_permission(Name=name, PermissionType="Read")


def test_permission_bad_account_ids(ssm, fresh):
    name = fresh.plain("permids")
    create(ssm, name, cmd22("p"))
    with raises_aws("ValidationException"):
        ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=["12345"])
    with raises_aws("ValidationException", "DocumentPermissionLimit"):
        ssm.modify_document_permission(
            Name=name, PermissionType="Share", AccountIdsToAdd=[f"{100000000000 + i}" for i in range(21)]
        )
    with raises_aws("ValidationException"):
        ssm.modify_document_permission(
            Name=name, PermissionType="Share", AccountIdsToAdd=["111111111111"], SharedDocumentVersion="latest"
        )
    out = ssm.describe_document_permission(Name=name, PermissionType="Share")
    assert out.get("AccountIds", []) == []


def test_builtins_cannot_be_shared(ssm):
    with raises_aws("InvalidDocument", "InvalidDocumentOperation"):
        ssm.modify_document_permission(Name="AWS-RunShellScript", PermissionType="Share", AccountIdsToAdd=["111111111111"])


# --------------------------------------------------------------------------- #
# ListDocuments
# --------------------------------------------------------------------------- #


def test_filters_and_legacy_filter_list_together(ssm):
    with raises_aws("ValidationException"):
        ssm.list_documents(
            Filters=[{"Key": "Owner", "Values": ["Self"]}],
            DocumentFilterList=[{"key": "Owner", "value": "Self"}],
        )


def test_bad_filter_key(ssm):
    with raises_aws("InvalidFilterKey"):
        ssm.list_documents(Filters=[{"Key": "Colour", "Values": ["blue"]}])


def test_bad_next_token(ssm):
    for token in ("bogus", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "eyJmb28iOiAiYmFyIn0="):
        with raises_aws("InvalidNextToken"):
            ssm.list_documents(NextToken=token)


def test_bad_next_token_versions(ssm, fresh):
    name = fresh.plain("tok")
    create(ssm, name, cmd22("t"))
    with raises_aws("InvalidNextToken"):
        ssm.list_document_versions(Name=name, NextToken="bogus")


def test_bad_max_results(raw, fresh):
    for n in (0, 51):
        with raises_aws("ValidationException"):
            raw.list_documents(MaxResults=n)
    name = fresh.plain("maxr")
    create(raw, name, cmd22("m"))
    for n in (0, 51):
        with raises_aws("ValidationException"):
            raw.list_document_versions(Name=name, MaxResults=n)


def test_empty_name_filter_matches_nothing_unusual(ssm, fresh):
    # a filter that matches nothing is an empty list, not an error
    assert list_names(ssm, Filters=[{"Key": "Name", "Values": [fresh.plain("nothing")]}]) == []
