"""Parameter Store behaviour through boto3 and the aws CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time

import pytest

from conftest import ACCOUNT_ID, REGION, AwsCliError, collect, raises_aws


def put(ssm, name, value, type_="String", **kw):
    return ssm.put_parameter(Name=name, Value=value, Type=type_, **kw)


def describe(ssm, **kw):
    return collect(ssm.describe_parameters, "Parameters", **kw)


def describe_names(ssm, **kw):
    return sorted(p["Name"] for p in describe(ssm, **kw))


def by_path(ssm, path, **kw):
    return collect(ssm.get_parameters_by_path, "Parameters", Path=path, **kw)


def history(ssm, name, **kw):
    return collect(ssm.get_parameter_history, "Parameters", Name=name, **kw)


def arn_of(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}"


# --------------------------------------------------------------------------- #
# basic put / get
# --------------------------------------------------------------------------- #


def test_put_get_string(ssm, fresh):
    name = fresh("app", "greeting")
    out = put(ssm, name, "hello world", Description="a greeting")
    assert out["Version"] == 1
    assert out["Tier"] == "Standard"

    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Name"] == name
    assert p["Type"] == "String"
    assert p["Value"] == "hello world"
    assert p["Version"] == 1
    assert p["DataType"] == "text"
    assert p["ARN"] == arn_of(name)
    assert isinstance(p["LastModifiedDate"], dt.datetime)
    age = dt.datetime.now(dt.timezone.utc) - p["LastModifiedDate"]
    assert abs(age.total_seconds()) < 300, p["LastModifiedDate"]
    assert "Selector" not in p


def test_put_get_string_list(ssm, fresh):
    name = fresh("list")
    put(ssm, name, "a,b,c", "StringList")
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Type"] == "StringList"
    assert p["Value"] == "a,b,c"


def test_value_round_trips_unicode_and_whitespace(ssm, fresh):
    name = fresh("unicode")
    value = "  grüße 🚀\nline2\t\"quoted\" \\ back  "
    put(ssm, name, value)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == value


def test_arn_format(ssm, fresh):
    slash = fresh("x", "y")
    plain = fresh.plain("arn")
    put(ssm, slash, "v")
    put(ssm, plain, "v")
    a1 = ssm.get_parameter(Name=slash)["Parameter"]["ARN"]
    a2 = ssm.get_parameter(Name=plain)["Parameter"]["ARN"]
    assert a1 == f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{slash}"
    assert a2 == f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{plain}"
    assert "parameter//" not in a1
    # DescribeParameters reports the same ARN
    d = describe(ssm, ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [slash]}])
    assert [p["ARN"] for p in d] == [a1]


def test_overwrite_increments_version(ssm, fresh):
    name = fresh("ver")
    assert put(ssm, name, "v1")["Version"] == 1
    with raises_aws("ParameterAlreadyExists"):
        put(ssm, name, "nope")
    assert put(ssm, name, "v2", Overwrite=True)["Version"] == 2
    assert put(ssm, name, "v3", Overwrite=True)["Version"] == 3
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert (p["Value"], p["Version"]) == ("v3", 3)
    hist = history(ssm, name)
    assert [(h["Version"], h["Value"]) for h in hist] == [(1, "v1"), (2, "v2"), (3, "v3")]


def test_overwrite_keeps_type_when_omitted(ssm, fresh):
    name = fresh("keep-type")
    put(ssm, name, "a,b", "StringList")
    ssm.put_parameter(Name=name, Value="c,d", Overwrite=True)
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert (p["Type"], p["Value"], p["Version"]) == ("StringList", "c,d", 2)


def test_get_parameters_mixed(ssm, fresh):
    names = [fresh(f"p{i}") for i in range(6)]
    for i, n in enumerate(names):
        put(ssm, n, f"value-{i}")
    missing = [fresh(f"missing{i}") for i in range(4)]
    out = ssm.get_parameters(Names=names + missing)
    got = {p["Name"]: p["Value"] for p in out["Parameters"]}
    assert got == {n: f"value-{i}" for i, n in enumerate(names)}
    assert sorted(out["InvalidParameters"]) == sorted(missing)


def test_get_parameters_eleven_names_rejected(ssm, fresh):
    with raises_aws("ValidationException"):
        ssm.get_parameters(Names=[fresh(f"n{i}") for i in range(11)])


# --------------------------------------------------------------------------- #
# SecureString
# --------------------------------------------------------------------------- #


def test_secure_string_default_key(ssm, fresh):
    name = fresh("secret")
    plaintext = "s3cr3t-" + secrets.token_hex(8)
    put(ssm, name, plaintext, "SecureString")

    enc = ssm.get_parameter(Name=name)["Parameter"]
    assert enc["Type"] == "SecureString"
    assert enc["Value"] != plaintext
    assert plaintext not in enc["Value"]

    dec = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert dec["Value"] == plaintext

    many = ssm.get_parameters(Names=[name], WithDecryption=True)["Parameters"]
    assert [p["Value"] for p in many] == [plaintext]
    many_enc = ssm.get_parameters(Names=[name])["Parameters"]
    assert many_enc[0]["Value"] != plaintext

    bp = by_path(ssm, str(fresh), WithDecryption=True)
    assert [p["Value"] for p in bp] == [plaintext]
    bp_enc = by_path(ssm, str(fresh))
    assert bp_enc[0]["Value"] != plaintext

    h = history(ssm, name, WithDecryption=True)
    assert h[0]["Value"] == plaintext
    assert h[0]["KeyId"] == "alias/aws/ssm"
    assert history(ssm, name)[0]["Value"] != plaintext

    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert len(meta) == 1
    assert meta[0]["KeyId"] == "alias/aws/ssm"
    assert meta[0]["Type"] == "SecureString"


def test_secure_string_custom_kms_key(server, ssm, fresh):
    kms = server.kms()
    created = server.aws("kms", "create-key", "--description", "app key")
    key_id = created["KeyMetadata"]["KeyId"]
    server.aws("kms", "create-alias", "--alias-name", "alias/app", "--target-key-id", key_id)

    name = fresh("db", "password")
    plaintext = "pw-" + secrets.token_hex(12)
    put(ssm, name, plaintext, "SecureString", KeyId="alias/app")

    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert meta[0]["KeyId"] == "alias/app"
    by_key = describe_names(
        ssm,
        ParameterFilters=[
            {"Key": "Path", "Option": "Recursive", "Values": [str(fresh)]},
            {"Key": "KeyId", "Values": ["alias/app"]},
        ],
    )
    assert by_key == [name]
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == plaintext

    # a key addressed by id works too
    by_id = fresh("by-id")
    put(ssm, by_id, "x-" + plaintext, "SecureString", KeyId=key_id)
    assert ssm.get_parameter(Name=by_id, WithDecryption=True)["Parameter"]["Value"] == "x-" + plaintext

    kms.disable_key(KeyId=key_id)
    try:
        with raises_aws("InvalidKeyId"):
            put(ssm, fresh("db", "other"), "zzz", "SecureString", KeyId="alias/app")
        with raises_aws("InvalidKeyId", "KMSInvalidStateException"):
            ssm.get_parameter(Name=name, WithDecryption=True)
        # reading the ciphertext does not need the key
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != plaintext
    finally:
        kms.enable_key(KeyId=key_id)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == plaintext


def test_secure_string_unknown_key(ssm, fresh):
    with raises_aws("InvalidKeyId"):
        put(ssm, fresh("k"), "v", "SecureString", KeyId="alias/does-not-exist-" + fresh.token)
    with raises_aws("InvalidKeyId"):
        put(ssm, fresh("k2"), "v", "SecureString", KeyId="00000000-1111-2222-3333-444444444444")


# --------------------------------------------------------------------------- #
# selectors and labels
# --------------------------------------------------------------------------- #


def test_version_and_label_selectors(ssm, fresh):
    name = fresh("sel")
    for i in range(1, 4):
        put(ssm, name, f"v{i}", Overwrite=i > 1)

    p = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (p["Name"], p["Value"], p["Version"], p["Selector"]) == (name, "v1", 1, ":1")
    assert p["ARN"] == arn_of(name)

    p = ssm.get_parameter(Name=f"{name}:3")["Parameter"]
    assert (p["Value"], p["Selector"]) == ("v3", ":3")

    out = ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["prod"])
    assert out["InvalidLabels"] == []
    assert out["ParameterVersion"] == 2

    p = ssm.get_parameter(Name=f"{name}:prod")["Parameter"]
    assert (p["Name"], p["Value"], p["Version"], p["Selector"]) == (name, "v2", 2, ":prod")

    res = ssm.get_parameters(Names=[f"{name}:1", f"{name}:prod", name])
    got = sorted((p.get("Selector", ""), p["Version"], p["Name"]) for p in res["Parameters"])
    assert got == [("", 3, name), (":1", 1, name), (":prod", 2, name)]
    assert res["InvalidParameters"] == []

    with raises_aws("ParameterVersionNotFound"):
        ssm.get_parameter(Name=f"{name}:9")
    with raises_aws("ParameterVersionNotFound", "ParameterNotFound"):
        ssm.get_parameter(Name=f"{name}:nolabel")
    res = ssm.get_parameters(Names=[f"{name}:9", f"{name}:1"])
    assert [p["Version"] for p in res["Parameters"]] == [1]
    assert res["InvalidParameters"] == [f"{name}:9"]


def test_labels_move_between_versions(ssm, fresh):
    name = fresh("lbl")
    for i in range(1, 4):
        put(ssm, name, f"v{i}", Overwrite=i > 1)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["blue", "green"])
    labels = {h["Version"]: sorted(h.get("Labels", [])) for h in history(ssm, name)}
    assert labels == {1: ["blue", "green"], 2: [], 3: []}

    # no ParameterVersion: the latest version
    out = ssm.label_parameter_version(Name=name, Labels=["blue"])
    assert out["ParameterVersion"] == 3
    labels = {h["Version"]: sorted(h.get("Labels", [])) for h in history(ssm, name)}
    assert labels == {1: ["green"], 2: [], 3: ["blue"]}
    assert ssm.get_parameter(Name=f"{name}:blue")["Parameter"]["Version"] == 3

    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["blue"])
    assert ssm.get_parameter(Name=f"{name}:blue")["Parameter"]["Version"] == 2

    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["green", "blue"])
    assert out["RemovedLabels"] == ["green"]
    assert out["InvalidLabels"] == ["blue"]
    labels = {h["Version"]: sorted(h.get("Labels", [])) for h in history(ssm, name)}
    assert labels == {1: [], 2: ["blue"], 3: []}

    # a new version does not inherit labels
    put(ssm, name, "v4", Overwrite=True)
    assert sorted(history(ssm, name)[-1].get("Labels", [])) == []


def test_invalid_labels_reported(ssm, fresh):
    name = fresh("badlabel")
    put(ssm, name, "v")
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["aws-x", "ssmy", "9lives"])
    assert sorted(out["InvalidLabels"]) == ["9lives", "aws-x", "ssmy"]
    assert history(ssm, name)[0].get("Labels", []) == []


def test_version_limit_and_labels(ssm, fresh):
    name = fresh("hundred")
    put(ssm, name, "v1")
    for i in range(2, 101):
        assert put(ssm, name, f"v{i}", Overwrite=True)["Version"] == i
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])

    with raises_aws("ParameterMaxVersionLimitExceeded"):
        put(ssm, name, "v101", Overwrite=True)
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 100

    # moving the label off the oldest version lets the oldest version be dropped
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["pinned"])
    assert put(ssm, name, "v101", Overwrite=True)["Version"] == 101

    hist = history(ssm, name, MaxResults=50)
    assert [h["Version"] for h in hist] == list(range(2, 102))
    assert [h["Value"] for h in hist][:2] == ["v2", "v3"]
    with raises_aws("ParameterVersionNotFound"):
        ssm.get_parameter(Name=f"{name}:1")
    assert ssm.get_parameter(Name=f"{name}:pinned")["Parameter"]["Value"] == "v2"


# --------------------------------------------------------------------------- #
# names, tiers, patterns, data types
# --------------------------------------------------------------------------- #


def test_hierarchy_depth(ssm, fresh):
    fifteen = str(fresh) + "".join(f"/l{i}" for i in range(2, 16))
    assert fifteen.count("/") == 15
    put(ssm, fifteen, "deep")
    assert ssm.get_parameter(Name=fifteen)["Parameter"]["Value"] == "deep"
    with raises_aws("HierarchyLevelLimitExceededException"):
        put(ssm, fifteen + "/l16", "too deep")
    with raises_aws("HierarchyLevelLimitExceededException"):
        put(ssm, fifteen + "/a/b/c/d/e", "way too deep")


@pytest.mark.parametrize("bad", ["aws-thing", "ssm-thing", "AWSfoo", "Ssm.bar", "/ssm/thing", "/ssmfoo"])
def test_reserved_prefixes(ssm, bad):
    with raises_aws("ValidationException"):
        put(ssm, bad, "v")


@pytest.mark.parametrize("bad", ["/aws/e2e/", "/AWS-x/", "/awssec/e2e/", "/AWS-x"])
def test_reserved_aws_path(ssm, bad):
    # AWS answers "AccessDeniedException: No access to reserved parameter name" for names
    # under /aws... and ValidationException for other reserved prefixes
    name = bad + secrets.token_hex(4) if bad.endswith("/") else bad
    with raises_aws("ValidationException", "AccessDeniedException"):
        put(ssm, name, "v")


def test_tier_value_size_limits(ssm, fresh):
    std = fresh("std")
    put(ssm, std, "x" * 4096)
    assert len(ssm.get_parameter(Name=std)["Parameter"]["Value"]) == 4096
    with raises_aws("ValidationException"):
        put(ssm, fresh("std-big"), "x" * 4097)
    with raises_aws("ValidationException"):
        put(ssm, fresh("std-big2"), "x" * 4097, Tier="Standard")

    adv = fresh("adv")
    out = put(ssm, adv, "y" * 8192, Tier="Advanced")
    assert out["Tier"] == "Advanced"
    assert ssm.get_parameter(Name=adv)["Parameter"]["Value"] == "y" * 8192
    with raises_aws("ValidationException"):
        put(ssm, fresh("adv-big"), "y" * 8193, Tier="Advanced")

    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [adv]}])
    assert meta[0]["Tier"] == "Advanced"
    hist = history(ssm, adv)
    assert hist[0]["Tier"] == "Advanced"


def test_intelligent_tiering(ssm, fresh):
    small, big = fresh("it-small"), fresh("it-big")
    assert put(ssm, small, "s", Tier="Intelligent-Tiering")["Tier"] == "Standard"
    assert put(ssm, big, "b" * 5000, Tier="Intelligent-Tiering")["Tier"] == "Advanced"


def test_allowed_pattern(ssm, fresh):
    name = fresh("port")
    put(ssm, name, "8080", AllowedPattern=r"^\d+$")
    with raises_aws("ParameterPatternMismatchException"):
        put(ssm, name, "eighty", Overwrite=True, AllowedPattern=r"^\d+$")
    with raises_aws("ParameterPatternMismatchException"):
        put(ssm, fresh("other"), "abc", AllowedPattern=r"^[0-9]+$")
    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert meta[0]["AllowedPattern"] == r"^\d+$"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "8080"


def test_data_type_ec2_image(ssm, fresh):
    good = fresh("ami")
    put(ssm, good, "ami-0123456789abcdef0", DataType="aws:ec2:image")
    p = ssm.get_parameter(Name=good)["Parameter"]
    assert p["DataType"] == "aws:ec2:image"
    with raises_aws("ValidationException"):
        put(ssm, fresh("bad-ami"), "not-an-ami", DataType="aws:ec2:image")
    with raises_aws("ValidationException"):
        put(ssm, fresh("bad-type"), "v", DataType="no:such:type")


# --------------------------------------------------------------------------- #
# tags
# --------------------------------------------------------------------------- #


def tag_map(ssm, name):
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def test_tags(ssm, fresh):
    name = fresh("tagged")
    put(ssm, name, "v", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}])
    assert tag_map(ssm, name) == {"env": "prod", "team": "core"}

    ssm.add_tags_to_resource(
        ResourceType="Parameter",
        ResourceId=name,
        Tags=[{"Key": "env", "Value": "staging"}, {"Key": "owner", "Value": "me"}],
    )
    assert tag_map(ssm, name) == {"env": "staging", "team": "core", "owner": "me"}

    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team", "nope"])
    assert tag_map(ssm, name) == {"env": "staging", "owner": "me"}

    # tags survive an overwrite
    put(ssm, name, "v2", Overwrite=True)
    assert tag_map(ssm, name) == {"env": "staging", "owner": "me"}

    untagged = fresh("untagged")
    put(ssm, untagged, "v")
    assert tag_map(ssm, untagged) == {}


def test_tags_with_overwrite_rejected(ssm, fresh):
    name = fresh("t-ow")
    put(ssm, name, "v")
    with raises_aws("ValidationException"):
        put(ssm, name, "v2", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}])


def test_tags_missing_parameter(ssm, fresh):
    with raises_aws("InvalidResourceId"):
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=fresh("ghost"))
    with raises_aws("InvalidResourceId"):
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=fresh("ghost"), Tags=[{"Key": "a", "Value": "b"}]
        )


def test_too_many_tags(ssm, fresh):
    name = fresh("many-tags")
    put(ssm, name, "v")
    ssm.add_tags_to_resource(
        ResourceType="Parameter",
        ResourceId=name,
        Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(50)],
    )
    with raises_aws("TooManyTagsError"):
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "k50", "Value": "x"}]
        )
    assert len(tag_map(ssm, name)) == 50


# --------------------------------------------------------------------------- #
# DescribeParameters
# --------------------------------------------------------------------------- #


@pytest.fixture
def tree(ssm, fresh):
    """A small hierarchy under a fresh prefix."""
    names = {
        "host": fresh("app", "db-host"),
        "pass": fresh("app", "db-pass"),
        "list": fresh("app", "list"),
        "deep": fresh("app", "deep", "key"),
        "other": fresh("other"),
        "ami": fresh("ami"),
    }
    put(ssm, names["host"], "db.local")
    put(ssm, names["pass"], "hunter2", "SecureString")
    put(ssm, names["list"], "a,b", "StringList")
    put(ssm, names["deep"], "deep", Tier="Advanced", Description="deep one")
    put(ssm, names["other"], "o", Tags=[{"Key": "env", "Value": "prod"}])
    put(ssm, names["ami"], "ami-0abcdef1234567890", DataType="aws:ec2:image")
    return names


def test_describe_name_filters(ssm, fresh, tree):
    eq = describe_names(ssm, ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [tree["host"]]}])
    assert eq == [tree["host"]]
    # Equals is the default option
    assert describe_names(ssm, ParameterFilters=[{"Key": "Name", "Values": [tree["pass"]]}]) == [tree["pass"]]

    begins = describe_names(
        ssm, ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [fresh("app", "db")]}]
    )
    assert begins == sorted([tree["host"], tree["pass"]])

    contains = describe_names(
        ssm, ParameterFilters=[{"Key": "Name", "Option": "Contains", "Values": [fresh.token + "/app/d"]}]
    )
    assert contains == sorted([tree["host"], tree["pass"], tree["deep"]])


def test_describe_path_filters(ssm, fresh, tree):
    one = describe_names(ssm, ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [fresh("app")]}])
    assert one == sorted([tree["host"], tree["pass"], tree["list"]])
    rec = describe_names(ssm, ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [fresh("app")]}])
    assert rec == sorted([tree["host"], tree["pass"], tree["list"], tree["deep"]])
    top = describe_names(ssm, ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [str(fresh)]}])
    assert top == sorted([tree["other"], tree["ami"]])


def _scoped(fresh, *filters):
    return [{"Key": "Path", "Option": "Recursive", "Values": [str(fresh)]}, *filters]


def test_describe_type_keyid_tier_datatype_tag_filters(ssm, fresh, tree):
    assert describe_names(ssm, ParameterFilters=_scoped(fresh, {"Key": "Type", "Values": ["SecureString"]})) == [
        tree["pass"]
    ]
    assert describe_names(
        ssm, ParameterFilters=_scoped(fresh, {"Key": "Type", "Values": ["StringList", "SecureString"]})
    ) == sorted([tree["list"], tree["pass"]])
    assert describe_names(ssm, ParameterFilters=_scoped(fresh, {"Key": "KeyId", "Values": ["alias/aws/ssm"]})) == [
        tree["pass"]
    ]
    assert describe_names(ssm, ParameterFilters=_scoped(fresh, {"Key": "Tier", "Values": ["Advanced"]})) == [
        tree["deep"]
    ]
    assert describe_names(
        ssm, ParameterFilters=_scoped(fresh, {"Key": "DataType", "Values": ["aws:ec2:image"]})
    ) == [tree["ami"]]
    assert describe_names(ssm, ParameterFilters=_scoped(fresh, {"Key": "tag:env", "Values": ["prod"]})) == [
        tree["other"]
    ]
    assert describe_names(ssm, ParameterFilters=_scoped(fresh, {"Key": "tag:env", "Values": ["dev"]})) == []

    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [tree["deep"]]}])[0]
    assert meta["Description"] == "deep one"
    assert meta["Version"] == 1
    assert meta["Type"] == "String"
    assert meta["DataType"] == "text"
    assert isinstance(meta["LastModifiedDate"], dt.datetime)
    assert "Value" not in meta


def test_describe_legacy_filters(ssm, fresh, tree):
    got = describe_names(ssm, Filters=[{"Key": "Name", "Values": [tree["host"]]}])
    assert got == [tree["host"]]
    secure = describe(ssm, Filters=[{"Key": "Type", "Values": ["SecureString"]}])
    assert tree["pass"] in {p["Name"] for p in secure}
    assert {p["Type"] for p in secure} == {"SecureString"}


def test_describe_label_filter_rejected(ssm, fresh):
    with raises_aws("InvalidFilterKey"):
        ssm.describe_parameters(ParameterFilters=[{"Key": "Label", "Values": ["prod"]}])


def test_describe_paging(ssm, fresh):
    names = sorted(fresh(f"n{i:03d}") for i in range(55))
    for n in names:
        put(ssm, n, "v")
    flt = [{"Key": "Path", "Option": "OneLevel", "Values": [str(fresh)]}]
    seen = collect(ssm.describe_parameters, "Parameters", ParameterFilters=flt, MaxResults=7)
    seen_names = [p["Name"] for p in seen]
    assert len(seen_names) == len(set(seen_names)), "a parameter was returned twice"
    assert sorted(seen_names) == names

    first = ssm.describe_parameters(ParameterFilters=flt, MaxResults=7)
    assert len(first["Parameters"]) <= 7
    assert first.get("NextToken")


# --------------------------------------------------------------------------- #
# GetParametersByPath
# --------------------------------------------------------------------------- #


def test_by_path_recursive_and_one_level(ssm, fresh, tree):
    one = sorted(p["Name"] for p in by_path(ssm, fresh("app")))
    assert one == sorted([tree["host"], tree["pass"], tree["list"]])
    rec = sorted(p["Name"] for p in by_path(ssm, fresh("app"), Recursive=True))
    assert rec == sorted([tree["host"], tree["pass"], tree["list"], tree["deep"]])
    everything = sorted(p["Name"] for p in by_path(ssm, str(fresh), Recursive=True))
    assert everything == sorted(tree.values())
    values = {p["Name"]: p["Value"] for p in by_path(ssm, fresh("app"), WithDecryption=True)}
    assert values[tree["pass"]] == "hunter2"
    assert values[tree["host"]] == "db.local"
    enc = {p["Name"]: p["Value"] for p in by_path(ssm, fresh("app"))}
    assert enc[tree["pass"]] != "hunter2"
    assert by_path(ssm, fresh("nothing-here"), Recursive=True) == []


def test_by_path_filters(ssm, fresh, tree):
    t = by_path(
        ssm,
        str(fresh),
        Recursive=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["StringList"]}],
    )
    assert [p["Name"] for p in t] == [tree["list"]]
    k = by_path(
        ssm, str(fresh), Recursive=True, ParameterFilters=[{"Key": "KeyId", "Values": ["alias/aws/ssm"]}]
    )
    assert [p["Name"] for p in k] == [tree["pass"]]


def test_by_path_label_filter(ssm, fresh):
    a, b, c = fresh("lf", "a"), fresh("lf", "b"), fresh("lf", "c")
    put(ssm, a, "a1")
    put(ssm, b, "b1")
    put(ssm, c, "c1")
    put(ssm, c, "c2", Overwrite=True)
    ssm.label_parameter_version(Name=a, ParameterVersion=1, Labels=["prod"])
    ssm.label_parameter_version(Name=c, ParameterVersion=2, Labels=["prod"])
    got = by_path(
        ssm, fresh("lf"), ParameterFilters=[{"Key": "Label", "Option": "Equals", "Values": ["prod"]}]
    )
    assert sorted((p["Name"], p["Value"]) for p in got) == [(a, "a1"), (c, "c2")]


def test_by_path_paging(ssm, fresh):
    names = sorted(fresh("pg", f"n{i:03d}") for i in range(60))
    for n in names:
        put(ssm, n, "v")
    seen = collect(ssm.get_parameters_by_path, "Parameters", Path=fresh("pg"), MaxResults=10)
    seen_names = [p["Name"] for p in seen]
    assert len(seen_names) == len(set(seen_names))
    assert sorted(seen_names) == names


def test_by_path_paging_with_concurrent_inserts(ssm, fresh):
    base = fresh("cc")
    names = sorted(f"{base}/m{i:03d}" for i in range(0, 104, 2))
    for n in names:
        put(ssm, n, "v")

    seen: list[str] = []
    added: list[str] = []
    token = None
    pages = 0
    while True:
        kw = {"Path": base, "Recursive": True, "MaxResults": 10}
        if token:
            kw["NextToken"] = token
        page = ssm.get_parameters_by_path(**kw)
        seen += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        pages += 1
        # between pages, add names that sort before, among and after the cursor
        for extra in (f"{base}/a{pages:03d}", f"{base}/m{pages * 8 + 1:03d}", f"{base}/z{pages:03d}"):
            put(ssm, extra, "new")
            added.append(extra)
        if not token:
            break
        assert pages < 200

    dups = {n for n in seen if seen.count(n) > 1}
    assert not dups, f"returned more than once: {sorted(dups)}"
    missing = set(names) - set(seen)
    assert not missing, f"pre-existing parameters never returned: {sorted(missing)}"
    assert set(seen) <= set(names) | set(added)


def test_bogus_next_token(ssm, fresh):
    name = fresh("tok")
    put(ssm, name, "v")
    with raises_aws("InvalidNextToken"):
        ssm.get_parameters_by_path(Path=str(fresh), NextToken="this-is-not-a-token")
    with raises_aws("InvalidNextToken"):
        ssm.describe_parameters(NextToken="this-is-not-a-token")
    with raises_aws("InvalidNextToken"):
        ssm.get_parameter_history(Name=name, NextToken="this-is-not-a-token")


# --------------------------------------------------------------------------- #
# history / delete
# --------------------------------------------------------------------------- #


def test_history_fields_and_paging(ssm, fresh):
    name = fresh("hist")
    put(ssm, name, "v1", Description="first")
    put(ssm, name, "v2", Overwrite=True, Description="second")
    for i in range(3, 13):
        put(ssm, name, f"v{i}", Overwrite=True)
    page = ssm.get_parameter_history(Name=name, MaxResults=5)
    assert len(page["Parameters"]) == 5
    assert page.get("NextToken")
    hist = history(ssm, name, MaxResults=5)
    assert [h["Version"] for h in hist] == list(range(1, 13))
    assert hist[0]["Description"] == "first"
    assert hist[1]["Description"] == "second"
    assert all(h["Name"] == name and h["Type"] == "String" for h in hist)
    assert all(isinstance(h["LastModifiedDate"], dt.datetime) for h in hist)


def test_delete_parameter(ssm, fresh):
    name = fresh("del")
    put(ssm, name, "v1")
    put(ssm, name, "v2", Overwrite=True)
    ssm.delete_parameter(Name=name)
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter(Name=name)
    with raises_aws("ParameterNotFound"):
        ssm.get_parameter_history(Name=name)
    with raises_aws("ParameterNotFound"):
        ssm.delete_parameter(Name=name)
    assert describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}]) == []
    # re-creating starts again at version 1
    assert put(ssm, name, "again")["Version"] == 1


def test_delete_parameters(ssm, fresh):
    names = [fresh(f"d{i}") for i in range(4)]
    for n in names:
        put(ssm, n, "v")
    missing = [fresh("nope1"), fresh("nope2")]
    out = ssm.delete_parameters(Names=names + missing)
    assert sorted(out["DeletedParameters"]) == sorted(names)
    assert sorted(out["InvalidParameters"]) == sorted(missing)
    assert ssm.get_parameters(Names=names)["Parameters"] == []
    with raises_aws("ValidationException"):
        ssm.delete_parameters(Names=[fresh(f"x{i}") for i in range(11)])


# --------------------------------------------------------------------------- #
# policies
# --------------------------------------------------------------------------- #


def _expiration(seconds: float) -> str:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    ts = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": ts}}])


def test_policies_rejected_on_standard_tier(ssm, fresh):
    with raises_aws("ValidationException", "IncompatiblePolicyException"):
        put(ssm, fresh("std-pol"), "v", Tier="Standard", Policies=_expiration(3600))


@pytest.mark.slow
def test_expiration_policy_deletes_parameter(ssm, fresh):
    name = fresh("expiring")
    keep = fresh("staying")
    put(ssm, keep, "stays", Tier="Advanced")
    out = put(ssm, name, "bye", Tier="Advanced", Policies=_expiration(4))
    assert out["Tier"] == "Advanced"
    meta = describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert len(meta) == 1
    assert [p["PolicyType"] for p in meta[0]["Policies"]] == ["Expiration"]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            ssm.get_parameter(Name=name)
        except ssm.exceptions.ParameterNotFound:
            break
        time.sleep(1)
    else:
        pytest.fail("parameter with an Expiration policy still exists after 90 s")
    assert describe(ssm, ParameterFilters=[{"Key": "Name", "Values": [name]}]) == []
    assert ssm.get_parameter(Name=keep)["Parameter"]["Value"] == "stays"


# --------------------------------------------------------------------------- #
# the aws CLI
# --------------------------------------------------------------------------- #


def test_aws_cli_parameter_store(server, fresh):
    aws = server.aws
    out = aws("ssm", "put-parameter", "--name", fresh("cli", "one"), "--value", "1", "--type", "String")
    assert out["Version"] == 1
    aws("ssm", "put-parameter", "--name", fresh("cli", "one"), "--value", "uno", "--type", "String", "--overwrite")
    aws("ssm", "put-parameter", "--name", fresh("cli", "sub", "two"), "--value", "s3cret", "--type", "SecureString")
    aws("ssm", "put-parameter", "--name", fresh("cli", "list"), "--value", "a,b", "--type", "StringList")

    got = aws("ssm", "get-parameter", "--name", fresh("cli", "one"))["Parameter"]
    assert (got["Value"], got["Version"]) == ("uno", 2)
    sec = aws("ssm", "get-parameter", "--name", fresh("cli", "sub", "two"), "--with-decryption")["Parameter"]
    assert sec["Value"] == "s3cret"

    res = aws(
        "ssm", "get-parameters-by-path", "--path", fresh("cli"), "--recursive", "--with-decryption",
        "--max-items", "100", "--page-size", "1",
    )
    assert {p["Name"]: p["Value"] for p in res["Parameters"]} == {
        fresh("cli", "one"): "uno",
        fresh("cli", "sub", "two"): "s3cret",
        fresh("cli", "list"): "a,b",
    }

    desc = aws(
        "ssm", "describe-parameters", "--parameter-filters",
        f"Key=Name,Option=BeginsWith,Values={fresh('cli')}",
    )
    assert sorted(p["Name"] for p in desc["Parameters"]) == sorted(
        [fresh("cli", "one"), fresh("cli", "sub", "two"), fresh("cli", "list")]
    )

    assert aws("ssm", "delete-parameter", "--name", fresh("cli", "one")) is None
    with pytest.raises(AwsCliError) as ei:
        aws("ssm", "get-parameter", "--name", fresh("cli", "one"))
    assert "ParameterNotFound" in ei.value.stderr
    with pytest.raises(AwsCliError) as ei:
        aws("ssm", "delete-parameter", "--name", fresh("cli", "one"))
    assert "ParameterNotFound" in ei.value.stderr


def test_aws_cli_uses_admin_env_as_written(server, fresh):
    """admin.env alone (its endpoint, region and keys) is enough for the CLI."""
    env = server.env(admin_env_only=True)
    name = fresh("admin-env")
    server.aws("ssm", "put-parameter", "--name", name, "--value", "ok", "--type", "String", env=env)
    got = server.aws("ssm", "get-parameter", "--name", name, env=env)
    assert got["Parameter"]["Value"] == "ok"
    keys = server.aws("kms", "list-keys", env=env)
    assert "Keys" in keys


def test_name_with_all_allowed_characters(ssm, fresh):
    name = fresh("A-z_0.9", "x-y_z.1")
    put(ssm, name, "ok")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "ok"
    assert re.fullmatch(r"arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter/.+", ssm.get_parameter(Name=name)["Parameter"]["ARN"])
