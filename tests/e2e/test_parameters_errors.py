"""Bad Parameter Store input: every case must be an HTTP 400 with the AWS error code."""

from __future__ import annotations

import json

import pytest

from conftest import raises_aws


@pytest.fixture
def raw(server):
    """An SSM client without botocore's client-side parameter validation."""
    return server.ssm(validate=False)


def test_get_missing_parameter(ssm, fresh):
    with raises_aws("ParameterNotFound") as ei:
        ssm.get_parameter(Name=fresh("missing"))
    assert ei.value.response["Error"]["Message"]


def test_get_missing_version(ssm, fresh):
    name = fresh("p")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    with raises_aws("ParameterVersionNotFound"):
        ssm.get_parameter(Name=f"{name}:2")
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=fresh("missing") + ":1")


def test_put_existing_without_overwrite(ssm, fresh):
    name = fresh("p")
    ssm.put_parameter(Name=name, Value="v", Type="String")
    with raises_aws("ParameterAlreadyExists"):
        ssm.put_parameter(Name=name, Value="v2", Type="String")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_put_empty_value(raw, fresh):
    with raises_aws("ValidationException"):
        raw.put_parameter(Name=fresh("p"), Value="", Type="String")


def test_put_without_type_on_create(raw, fresh):
    with raises_aws("ValidationException"):
        raw.put_parameter(Name=fresh("p"), Value="v")


@pytest.mark.parametrize("field,value", [("Type", "Number"), ("Tier", "Gold"), ("Type", "string")])
def test_put_bad_enum(raw, fresh, field, value):
    args = {"Name": fresh("p"), "Value": "v", "Type": "String", field: value}
    with raises_aws("ValidationException"):
        raw.put_parameter(**args)


@pytest.mark.parametrize(
    "suffix",
    ["bad name", "bad*name", "/sub/bad!char", "sub/not-fully-qualified", "x" * 2100, "tab\there"],
)
def test_put_bad_name(raw, fresh, suffix):
    if suffix.startswith("/"):
        name = str(fresh) + suffix
    elif "/" in suffix:
        name = fresh.token + "/" + suffix  # slash inside, no leading slash
    else:
        name = fresh.plain(suffix)
    with raises_aws("ValidationException"):
        raw.put_parameter(Name=name, Value="v", Type="String")


def test_get_empty_name(raw):
    with raises_aws("ValidationException"):
        raw.get_parameter(Name="")


def test_invalid_allowed_pattern(ssm, fresh):
    with raises_aws("InvalidAllowedPatternException", "ValidationException"):
        ssm.put_parameter(Name=fresh("p"), Value="v", Type="String", AllowedPattern="[unclosed")


def test_get_parameters_limits(raw, fresh):
    with raises_aws("ValidationException"):
        raw.get_parameters(Names=[])
    with raises_aws("ValidationException"):
        raw.get_parameters(Names=[fresh(f"n{i}") for i in range(11)])


def test_delete_errors(raw, fresh):
    with raises_aws("ParameterNotFound"):
        raw.delete_parameter(Name=fresh("missing"))
    with raises_aws("ValidationException"):
        raw.delete_parameters(Names=[])
    with raises_aws("ValidationException"):
        raw.delete_parameters(Names=[fresh(f"n{i}") for i in range(11)])


def test_history_missing(ssm, fresh):
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter_history(Name=fresh("missing"))


def test_label_errors(raw, fresh):
    name = fresh("lbl")
    raw.put_parameter(Name=name, Value="v", Type="String")
    with raises_aws("ParameterNotFound"):
        raw.label_parameter_version(Name=fresh("missing"), Labels=["a"])
    with raises_aws("ParameterVersionNotFound"):
        raw.label_parameter_version(Name=name, ParameterVersion=5, Labels=["a"])
    with raises_aws("ValidationException"):
        raw.label_parameter_version(Name=name, ParameterVersion=1, Labels=["l" * 101])

    raw.label_parameter_version(Name=name, ParameterVersion=1, Labels=[f"l{i}" for i in range(10)])
    with raises_aws("ParameterVersionLabelLimitExceeded"):
        raw.label_parameter_version(Name=name, ParameterVersion=1, Labels=["eleventh"])
    # re-applying labels the version already has is not an error
    out = raw.label_parameter_version(Name=name, ParameterVersion=1, Labels=["l0", "l1"])
    assert out["InvalidLabels"] == []

    with raises_aws("ParameterNotFound"):
        raw.unlabel_parameter_version(Name=fresh("missing"), ParameterVersion=1, Labels=["a"])
    with raises_aws("ParameterVersionNotFound"):
        raw.unlabel_parameter_version(Name=name, ParameterVersion=7, Labels=["l0"])


@pytest.mark.parametrize(
    "op,args",
    [
        ("get_parameters_by_path", {"Path": "/x", "MaxResults": 11}),
        ("get_parameters_by_path", {"Path": "/x", "MaxResults": 0}),
        ("describe_parameters", {"MaxResults": 51}),
        ("describe_parameters", {"MaxResults": 0}),
        ("get_parameter_history", {"Name": "e2e-anything", "MaxResults": 51}),
    ],
)
def test_max_results_out_of_range(raw, op, args):
    with raises_aws("ValidationException"):
        getattr(raw, op)(**args)


def test_by_path_bad_path(raw):
    with raises_aws("ValidationException"):
        raw.get_parameters_by_path(Path="no-leading-slash")


def test_by_path_bad_filters(raw, fresh):
    with raises_aws("InvalidFilterKey"):
        raw.get_parameters_by_path(
            Path=str(fresh), ParameterFilters=[{"Key": "Name", "Values": [fresh("a")]}]
        )
    with raises_aws("InvalidFilterOption"):
        raw.get_parameters_by_path(
            Path=str(fresh),
            ParameterFilters=[{"Key": "Type", "Option": "Contains", "Values": ["String"]}],
        )


def test_describe_bad_filters(raw, fresh):
    with raises_aws("InvalidFilterKey"):
        raw.describe_parameters(ParameterFilters=[{"Key": "Label", "Values": ["prod"]}])
    with raises_aws("InvalidFilterKey", "ValidationException"):
        raw.describe_parameters(ParameterFilters=[{"Key": "Colour", "Values": ["red"]}])
    with raises_aws("InvalidFilterOption"):
        raw.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Recursive", "Values": [str(fresh)]}]
        )
    with raises_aws("InvalidFilterOption"):
        raw.describe_parameters(
            ParameterFilters=[{"Key": "Path", "Option": "Equals", "Values": [str(fresh)]}]
        )
    with raises_aws("InvalidFilterValue", "InvalidFilterOption"):
        raw.describe_parameters(ParameterFilters=[{"Key": "Type", "Values": ["Number"]}])
    with raises_aws("ValidationException"):
        raw.describe_parameters(
            Filters=[{"Key": "Name", "Values": [str(fresh)]}],
            ParameterFilters=[{"Key": "Name", "Values": [str(fresh)]}],
        )


def test_tags_bad_resource_type(raw, fresh):
    name = fresh("p")
    raw.put_parameter(Name=name, Value="v", Type="String")
    with raises_aws("ValidationException", "InvalidResourceType"):
        raw.list_tags_for_resource(ResourceType="Bucket", ResourceId=name)


@pytest.mark.parametrize(
    "policies,codes",
    [
        ("this is not json", ("InvalidPolicyAttributeException", "InvalidPolicyTypeException", "ValidationException")),
        (
            json.dumps([{"Type": "SelfDestruct", "Version": "1.0", "Attributes": {}}]),
            ("InvalidPolicyTypeException",),
        ),
        (
            json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "next tuesday"}}]),
            ("InvalidPolicyAttributeException", "ValidationException"),
        ),
    ],
    ids=["not-json", "unknown-type", "bad-timestamp"],
)
def test_bad_policies(raw, fresh, policies, codes):
    with raises_aws(*codes):
        raw.put_parameter(Name=fresh("pol"), Value="v", Type="String", Tier="Advanced", Policies=policies)


def test_reads_of_missing_names_with_selectors(ssm, fresh):
    out = ssm.get_parameters(Names=[fresh("a") + ":1", fresh("b") + ":label"])
    assert out["Parameters"] == []
    assert sorted(out["InvalidParameters"]) == sorted([fresh("a") + ":1", fresh("b") + ":label"])
