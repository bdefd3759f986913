"""Patch Manager end to end: baselines, default baselines and patch groups through boto3 and
the aws CLI; a real agent runs AWS-RunPatchBaseline against an apt repository of our own,
built here with dpkg-deb and apt-ftparchive (a security pocket and an updates pocket, several
versions of three harmless packages), given to the node as the baseline's alternative source
so that apt sees nothing else; Scan reports exactly the Missing set each baseline implies,
Install installs only the approved versions, honours RejectedPatches, and the states and
counts match DescribeInstancePatches, the patch state and Patch compliance.

The packages are ours (`steward-e2e-patch-*`, section `steward-e2e`): no baseline here approves
anything else, the machine's own sources are never used, and every test leaves the packages
as it found them (the module purges them at its end).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import Fleet, collect, raises_aws, start_fleet, wait_until
from test_iam import allow, as_user, make_user, policy, uid
from test_windows import open_window

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dpkg-deb") or not shutil.which("apt-ftparchive"),
    reason="installs .debs of our own: needs root, dpkg-deb and apt-ftparchive",
)

GROUP = "steward-e2e-web"
SECTION = "steward-e2e"
ALPHA, BETA, GAMMA = "steward-e2e-patch-alpha", "steward-e2e-patch-beta", "steward-e2e-patch-gamma"
PACKAGES = (ALPHA, BETA, GAMMA)
SECURITY, UPDATES = "steward-e2e-security", "steward-e2e-updates"
# (package, version, pocket, depends)
REPOSITORY = [
    (ALPHA, "1.1", SECURITY, ""),
    (ALPHA, "1.2", UPDATES, ""),
    (BETA, "2.0", SECURITY, f"{GAMMA} (>= 2.0)"),
    (GAMMA, "2.0", SECURITY, ""),
]
TAGS = {"p0": {"Patch Group": GROUP}}


def build_deb(out: Path, name: str, version: str, depends: str = "") -> Path:
    root = out / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/doc" / name).mkdir(parents=True)
    (root / "usr/share/doc" / name / "VERSION").write_text(version + "\n")
    control = (
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nSection: {SECTION}\nPriority: optional\n"
        f"Maintainer: Steward E2E <e2e@steward.invalid>\nDescription: Steward patching test package\n"
    )
    if depends:
        control += f"Depends: {depends}\n"
    (root / "DEBIAN/control").write_text(control)
    deb = out / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


def build_repository(base: Path) -> Path:
    repo = base / "repo"
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    for pocket in (SECURITY, UPDATES):
        (repo / "pool" / pocket).mkdir(parents=True)
    for name, version, pocket, depends in REPOSITORY:
        build_deb(repo / "pool" / pocket, name, version, depends)
    for pocket in (SECURITY, UPDATES):
        dists = repo / "dists" / pocket
        binary = dists / "main" / f"binary-{arch}"
        binary.mkdir(parents=True)
        packages = subprocess.run(
            ["apt-ftparchive", "packages", f"pool/{pocket}"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
        (binary / "Packages").write_text(packages)
        release = subprocess.run(
            [
                "apt-ftparchive",
                "-o", f"APT::FTPArchive::Release::Suite={pocket}",
                "-o", f"APT::FTPArchive::Release::Codename={pocket}",
                "-o", f"APT::FTPArchive::Release::Architectures={arch}",
                "-o", "APT::FTPArchive::Release::Components=main",
                "-o", "APT::FTPArchive::Release::Label=Steward E2E",
                "release", str(dists),
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (dists / "Release").write_text(release)
    return repo


def installed_version(name: str) -> str | None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", name], capture_output=True, text=True
    )
    status, _, version = done.stdout.partition(" ")
    return version if done.returncode == 0 and status == "installed" else None


def purge_ours() -> None:
    subprocess.run(["dpkg", "--purge", *PACKAGES], capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("patch-repo")
    repo = build_repository(base)
    originals = base / "originals"
    originals.mkdir()
    debs = [build_deb(originals, name, "1.0") for name in PACKAGES]
    yield {"repo": repo, "originals": debs}
    purge_ours()


@pytest.fixture
def at_one_oh(repo):
    """Our three packages installed at 1.0, as the test starts; gone after it."""
    purge_ours()
    subprocess.run(["dpkg", "-i", *map(str, repo["originals"])], check=True, capture_output=True)
    assert [installed_version(p) for p in PACKAGES] == ["1.0", "1.0", "1.0"]
    yield
    purge_ours()


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(extra_args=("--agent-heartbeat", "1", "--test-clock"))


@pytest.fixture(scope="module")
def reboots(tmp_path_factory) -> dict[str, Path]:
    """The agent's reboot command for these tests: it notes the reboot and kills the agent,
    as a machine going down would; the test starts the agent again, as the boot would."""
    base = tmp_path_factory.mktemp("patch-reboot")
    marks = base / "reboots"
    script = base / "reboot.sh"
    script.write_text(f'#!/bin/sh\necho "$STEWARD_AGENT_PID" >> {marks}\nkill -9 "$STEWARD_AGENT_PID"\n')
    script.chmod(0o755)
    return {"script": script, "marks": marks}


@pytest.fixture(scope="module")
def fleet(server, agent_factory, reboots) -> Fleet:
    return start_fleet(
        server, agent_factory, TAGS, env_for=lambda _: {"STEWARD_AGENT_REBOOT_COMMAND": str(reboots["script"])}
    )


@pytest.fixture(scope="module")
def ssm(server, fleet):
    return server.ssm()


def sources(repo) -> list[dict]:
    lines = "\n".join(f"deb [trusted=yes] file:{repo['repo']} {pocket} main" for pocket in (SECURITY, UPDATES))
    return [{"Name": "steward-e2e-repo", "Products": ["*"], "Configuration": lines}]


def our_rule(non_security: bool = False, level: str = "HIGH") -> dict:
    return {
        "PatchFilterGroup": {"PatchFilters": [{"Key": "SECTION", "Values": [SECTION]}]},
        "ComplianceLevel": level,
        "ApproveAfterDays": 0,
        "EnableNonSecurity": non_security,
    }


def make_baseline(ssm, repo, **overrides) -> str:
    args = {
        "Name": f"e2e-{uuid.uuid4().hex[:10]}",
        "OperatingSystem": "DEBIAN",
        "ApprovalRules": {"PatchRules": [our_rule()]},
        "Sources": sources(repo),
    }
    args.update(overrides)
    return ssm.create_patch_baseline(**args)["BaselineId"]


@pytest.fixture
def group_baseline(ssm, repo):
    """A baseline registered for the node's patch group; it and the registration go after."""
    made: list[str] = []

    def register(**overrides) -> str:
        bid = make_baseline(ssm, repo, **overrides)
        ssm.register_patch_baseline_for_patch_group(BaselineId=bid, PatchGroup=GROUP)
        made.append(bid)
        return bid

    yield register
    for bid in made:
        ssm.deregister_patch_baseline_for_patch_group(BaselineId=bid, PatchGroup=GROUP)
        ssm.delete_patch_baseline(BaselineId=bid)


def send_patch(ssm, node: str, operation: str, **params) -> str:
    parameters = {"Operation": [operation], **{k: [v] for k, v in params.items()}}
    return ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=[node], Parameters=parameters)[
        "Command"
    ]["CommandId"]


def wait_patch(ssm, node: str, cid: str) -> dict:

    def finished():
        try:
            inv = ssm.get_command_invocation(CommandId=cid, InstanceId=node)
        except ssm.exceptions.InvocationDoesNotExist:
            return None
        return inv if inv["Status"] in ("Success", "Failed", "TimedOut", "Cancelled") else None

    return wait_until(finished, 180, f"AWS-RunPatchBaseline {cid}", interval=0.5)


def run_patch(ssm, node: str, operation: str, **params) -> dict:
    return wait_patch(ssm, node, send_patch(ssm, node, operation, **params))


def ours(ssm, node: str, **kw) -> dict[str, dict]:
    patches = collect(ssm.describe_instance_patches, "Patches", InstanceId=node, **kw)
    return {p["KBId"].rsplit(".", 1)[0]: p for p in patches if p["KBId"].startswith("steward-e2e-patch-")}


def state(ssm, node: str) -> dict:
    [s] = ssm.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"]
    return s


# --------------------------------------------------------------------------- #
# baselines, defaults and patch groups
# --------------------------------------------------------------------------- #


def test_predefined_baselines_and_defaults(ssm):
    listed = collect(ssm.describe_patch_baselines, "BaselineIdentities", Filters=[{"Key": "OWNER", "Values": ["AWS"]}])
    names = {b["BaselineName"]: b for b in listed}
    for name in ("AWS-DebianDefaultPatchBaseline", "AWS-UbuntuDefaultPatchBaseline", "AWS-RedHatDefaultPatchBaseline"):
        assert names[name]["DefaultBaseline"] is True
    debian = names["AWS-DebianDefaultPatchBaseline"]
    assert debian["OperatingSystem"] == "DEBIAN" and debian["BaselineId"].startswith("arn:aws:ssm:")
    default = ssm.get_default_patch_baseline(OperatingSystem="DEBIAN")
    assert default == {**default, "BaselineId": debian["BaselineId"], "OperatingSystem": "DEBIAN"}
    got = ssm.get_patch_baseline(BaselineId=debian["BaselineId"])
    [rule] = got["ApprovalRules"]["PatchRules"]
    assert rule["PatchFilterGroup"]["PatchFilters"] == [
        {"Key": "PRIORITY", "Values": ["Required", "Important", "Standard", "Optional", "Extra"]}
    ]
    assert rule["EnableNonSecurity"] is False
    # The service's baselines are not the account's to change.
    with raises_aws("ValidationException"):
        ssm.update_patch_baseline(BaselineId=debian["BaselineId"], Description="mine now")
    with raises_aws("ValidationException"):
        ssm.delete_patch_baseline(BaselineId=debian["BaselineId"])


def test_baseline_lifecycle_default_and_groups(server, ssm, repo):
    bid = make_baseline(ssm, repo, Description="ours", Tags=[{"Key": "team", "Value": "ops"}])
    assert bid.startswith("pb-") and len(bid) == 20
    got = ssm.get_patch_baseline(BaselineId=bid)
    assert got["OperatingSystem"] == "DEBIAN" and got["Description"] == "ours"
    assert got["RejectedPatchesAction"] == "ALLOW_AS_DEPENDENCY" and got["PatchGroups"] == []
    assert got["Sources"][0]["Products"] == ["*"]

    # Update keeps what it does not name; Replace resets it.
    updated = ssm.update_patch_baseline(BaselineId=bid, RejectedPatches=[GAMMA], RejectedPatchesAction="BLOCK")
    assert updated["Description"] == "ours" and updated["RejectedPatches"] == [GAMMA]
    replaced = ssm.update_patch_baseline(BaselineId=bid, Name=got["Name"], Replace=True)
    assert "Description" not in replaced and replaced["RejectedPatches"] == [] and replaced["Sources"] == []

    # The account's default for DEBIAN, listed as such; it cannot be deleted while it is.
    ssm.register_default_patch_baseline(BaselineId=bid)
    assert ssm.get_default_patch_baseline(OperatingSystem="DEBIAN")["BaselineId"] == bid
    mine = collect(ssm.describe_patch_baselines, "BaselineIdentities", Filters=[{"Key": "OWNER", "Values": ["Self"]}])
    assert {"BaselineId": bid, "DefaultBaseline": True}.items() <= next(b for b in mine if b["BaselineId"] == bid).items()
    with raises_aws("ResourceInUseException"):
        ssm.delete_patch_baseline(BaselineId=bid)
    aws_debian = ssm.describe_patch_baselines(
        Filters=[{"Key": "OWNER", "Values": ["AWS"]}, {"Key": "OPERATING_SYSTEM", "Values": ["DEBIAN"]}]
    )["BaselineIdentities"][0]["BaselineId"]
    ssm.register_default_patch_baseline(BaselineId=aws_debian)

    # A patch group: one baseline per OS; without one, the OS's default answers.
    group = f"g-{uid()}/with slash"
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup=group, OperatingSystem="DEBIAN")["BaselineId"] == aws_debian
    ssm.register_patch_baseline_for_patch_group(BaselineId=bid, PatchGroup=group)
    with raises_aws("AlreadyExistsException") as err:
        ssm.register_patch_baseline_for_patch_group(BaselineId=aws_debian, PatchGroup=group)
    assert "already has a baseline registered for OperatingSystem DEBIAN" in str(err.value)
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup=group, OperatingSystem="DEBIAN")["BaselineId"] == bid
    assert ssm.get_patch_baseline(BaselineId=bid)["PatchGroups"] == [group]
    mappings = collect(ssm.describe_patch_groups, "Mappings", Filters=[{"Key": "NAME_PREFIX", "Values": [group[:8]]}])
    assert [(m["PatchGroup"], m["BaselineIdentity"]["BaselineId"]) for m in mappings] == [(group, bid)]
    with raises_aws("ResourceInUseException") as err:
        ssm.delete_patch_baseline(BaselineId=bid)
    assert group in str(err.value)
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=bid, PatchGroup=group)
    with raises_aws("InvalidResourceId"):
        ssm.deregister_patch_baseline_for_patch_group(BaselineId=bid, PatchGroup=group)

    # The aws CLI sees the same.
    listed = server.aws("ssm", "describe-patch-baselines", "--filters", "Key=NAME_PREFIX,Values=" + got["Name"])
    assert [b["BaselineId"] for b in listed["BaselineIdentities"]] == [bid]
    ssm.delete_patch_baseline(BaselineId=bid)
    with raises_aws("DoesNotExistException"):
        ssm.get_patch_baseline(BaselineId=bid)
    # Deleting what is gone already succeeds, as SSM does.
    assert ssm.delete_patch_baseline(BaselineId=bid)["BaselineId"] == bid


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"ApprovalRules": {"PatchRules": [{**our_rule(), "ApproveAfterDays": 7}]}}, "not supported for DEBIAN"),
        (
            {"ApprovalRules": {"PatchRules": [{**our_rule(), "ApproveUntilDate": "2026-01-01"}]}},
            "give one",
        ),
        (
            {"ApprovalRules": {"PatchRules": [{**our_rule(), "PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}}]}},
            "Invalid Filter Key: CLASSIFICATION",
        ),
        ({"GlobalFilters": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Urgent"]}]}}, "Invalid Filter Value: Urgent"),
        (
            {"GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}, {"Key": "PRODUCT", "Values": ["Debian12"]}]}},
            "more than once",
        ),
        ({"ApprovedPatches": [ALPHA], "RejectedPatches": [ALPHA]}, "both in ApprovedPatches and in RejectedPatches"),
        (
            {"OperatingSystem": "REDHAT_ENTERPRISE_LINUX", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveUntilDate": "2026-02-30"}]}},
            "ApproveUntilDate",
        ),
        (
            {"OperatingSystem": "REDHAT_ENTERPRISE_LINUX", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": []}}]}},
            "either ApproveAfterDays or ApproveUntilDate",
        ),
        ({"OperatingSystem": "WINDOWS"}, "Invalid Filter Key: SECTION"),
        ({"OperatingSystem": "PLAN9"}, "ROCKY_LINUX"),
        ({"RejectedPatchesAction": "SOMETIMES"}, "ALLOW_AS_DEPENDENCY"),
    ],
)
def test_baseline_bad_input(ssm, repo, overrides, words):
    with raises_aws("ValidationException") as err:
        make_baseline(ssm, repo, **overrides)
    assert words in str(err.value)


def test_lookup_bad_input(ssm, fleet):
    with raises_aws("DoesNotExistException"):
        ssm.get_patch_baseline(BaselineId="pb-0123456789abcdef0")
    with raises_aws("DoesNotExistException"):
        ssm.register_default_patch_baseline(BaselineId="pb-0123456789abcdef0")
    with raises_aws("DoesNotExistException"):
        ssm.register_patch_baseline_for_patch_group(BaselineId="pb-0123456789abcdef0", PatchGroup="g")
    with raises_aws("InvalidFilter"):
        ssm.describe_patch_baselines(Filters=[{"Key": "COLOUR", "Values": ["blue"]}])
    with raises_aws("InvalidFilter"):
        ssm.describe_instance_patches(InstanceId=fleet.id("p0"), Filters=[{"Key": "Colour", "Values": ["x"]}])
    with raises_aws("InvalidFilter"):
        ssm.describe_instance_patch_states_for_patch_group(
            PatchGroup=GROUP, Filters=[{"Key": "Colour", "Values": ["1"], "Type": "Equal"}]
        )
    with raises_aws("InvalidFilter"):
        ssm.describe_instance_patch_states_for_patch_group(
            PatchGroup=GROUP, Filters=[{"Key": "MissingCount", "Values": ["many"], "Type": "Equal"}]
        )
    with raises_aws("InvalidInstanceId"):
        ssm.describe_instance_patches(InstanceId="mi-0123456789abcdef0")
    with raises_aws("InvalidNextToken"):
        ssm.describe_patch_baselines(NextToken="not-a-token")
    with raises_aws("InvalidParameters"):
        ssm.send_command(
            DocumentName="AWS-RunPatchBaseline", InstanceIds=[fleet.id("p0")], Parameters={"Operation": ["Upgrade"]}
        )


def test_a_limited_user_cannot_change_baselines(server, ssm):
    ak, sk, _ = make_user(
        server, f"patch-reader-{uid()}", policy(allow(["ssm:DescribePatchBaselines", "ssm:GetPatchBaseline"], ["*"]))
    )
    limited = as_user(server, "ssm", ak, sk)
    assert limited.describe_patch_baselines()["BaselineIdentities"]
    with raises_aws("AccessDeniedException"):
        limited.create_patch_baseline(Name="sneaky", OperatingSystem="DEBIAN")
    with raises_aws("AccessDeniedException"):
        limited.register_default_patch_baseline(BaselineId="pb-0123456789abcdef0")


# --------------------------------------------------------------------------- #
# on the node
# --------------------------------------------------------------------------- #


def test_scan_reports_what_the_group_baseline_misses(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    bid = group_baseline()
    inv = run_patch(ssm, node, "Scan")
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    # A scan changes nothing.
    assert [installed_version(p) for p in PACKAGES] == ["1.0", "1.0", "1.0"]
    patches = ours(ssm, node)
    assert {n: (p["State"], p["Title"]) for n, p in patches.items()} == {
        ALPHA: ("Missing", f"{ALPHA}.all:1.1"),  # security pocket only: not 1.2 from updates
        BETA: ("Missing", f"{BETA}.all:2.0"),
        GAMMA: ("Missing", f"{GAMMA}.all:2.0"),
    }
    assert patches[ALPHA]["Classification"] == "Security" and patches[ALPHA]["Severity"] == "optional"
    s = state(ssm, node)
    assert (s["BaselineId"], s["PatchGroup"], s["Operation"], s["MissingCount"]) == (bid, GROUP, "Scan", 3)
    assert s["SecurityNonCompliantCount"] == 3 and s["InstalledCount"] == 0
    # Every other package of this machine is outside the baseline.
    others = collect(ssm.describe_instance_patches, "Patches", InstanceId=node, Filters=[{"Key": "State", "Values": ["InstalledOther"]}])
    assert len(others) == s["InstalledOtherCount"] > 10
    assert all(not p["KBId"].startswith("steward-e2e-") for p in others)
    # Patch compliance: one item per package, ours non-compliant at the rule's level.
    items = collect(
        ssm.list_compliance_items,
        "ComplianceItems",
        ResourceIds=[node],
        ResourceTypes=["ManagedInstance"],
        Filters=[{"Key": "ComplianceType", "Values": ["Patch"]}, {"Key": "Status", "Values": ["NON_COMPLIANT"]}],
    )
    assert sorted(i["Id"] for i in items) == sorted(f"{p}.all" for p in PACKAGES)
    assert {i["Severity"] for i in items} == {"HIGH"}
    assert items[0]["ExecutionSummary"]["ExecutionType"] == "Command"
    # The group's state.
    group = ssm.describe_patch_group_state(PatchGroup=GROUP)
    assert group["Instances"] == 1 and group["InstancesWithMissingPatches"] == 1
    missing = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup=GROUP, Filters=[{"Key": "MissingCount", "Values": ["2"], "Type": "GreaterThan"}]
    )["InstancePatchStates"]
    assert [m["InstanceId"] for m in missing] == [node]


def test_scan_with_non_security_updates_enabled(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    group_baseline(ApprovalRules={"PatchRules": [our_rule(non_security=True)]})
    inv = run_patch(ssm, node, "Scan")
    assert inv["Status"] == "Success", inv["StandardErrorContent"]
    assert ours(ssm, node)[ALPHA]["Title"] == f"{ALPHA}.all:1.2"


def test_install_installs_only_approved_versions(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    group_baseline()
    inv = run_patch(ssm, node, "Install", RebootOption="NoReboot")
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    assert [installed_version(p) for p in PACKAGES] == ["1.1", "2.0", "2.0"]
    patches = ours(ssm, node)
    assert {n: p["State"] for n, p in patches.items()} == dict.fromkeys(PACKAGES, "InstalledPendingReboot")
    s = state(ssm, node)
    assert (s["Operation"], s["RebootOption"], s["InstalledPendingRebootCount"]) == ("Install", "NoReboot", 3)
    assert "LastNoRebootInstallOperationTime" in s
    # A later scan sees them installed at their approved versions.
    assert run_patch(ssm, node, "Scan")["Status"] == "Success"
    patches = ours(ssm, node)
    assert {n: (p["State"], p["Title"]) for n, p in patches.items()} == {
        ALPHA: ("Installed", f"{ALPHA}.all:1.1"),
        BETA: ("Installed", f"{BETA}.all:2.0"),
        GAMMA: ("Installed", f"{GAMMA}.all:2.0"),
    }
    assert state(ssm, node)["MissingCount"] == 0


def test_rejected_patches_block(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    group_baseline(RejectedPatches=[GAMMA], RejectedPatchesAction="BLOCK")
    run_patch(ssm, node, "Install", RebootOption="NoReboot")
    # beta 2.0 needs gamma 2.0, which is rejected: neither is installed.
    assert [installed_version(p) for p in PACKAGES] == ["1.1", "1.0", "1.0"]
    states = {n: p["State"] for n, p in ours(ssm, node).items()}
    assert states == {ALPHA: "InstalledPendingReboot", BETA: "Failed", GAMMA: "InstalledRejected"}
    s = state(ssm, node)
    assert (s["FailedCount"], s["InstalledRejectedCount"]) == (1, 1)


def test_rejected_patches_allowed_as_dependency(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    group_baseline(RejectedPatches=[GAMMA])
    inv = run_patch(ssm, node, "Scan")
    assert inv["Status"] == "Success"
    assert {n: p["State"] for n, p in ours(ssm, node).items()} == {
        ALPHA: "Missing",
        BETA: "Missing",
        GAMMA: "InstalledOther",
    }
    run_patch(ssm, node, "Install", RebootOption="NoReboot")
    # gamma comes in as beta's dependency, and only as that.
    assert [installed_version(p) for p in PACKAGES] == ["1.1", "2.0", "2.0"]
    assert state(ssm, node)["InstalledRejectedCount"] == 0


def test_baseline_sources_for_other_products_patch_nothing(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    only_ubuntu = [{**sources(repo)[0], "Products": ["Ubuntu22.04"]}]
    group_baseline(Sources=only_ubuntu)
    inv = run_patch(ssm, node, "Install", RebootOption="NoReboot")
    assert inv["Status"] == "Failed" and "alternative sources" in inv["StandardErrorContent"]
    assert [installed_version(p) for p in PACKAGES] == ["1.0", "1.0", "1.0"]


def test_reboot_if_needed_completes_when_the_node_is_back(ssm, fleet, repo, at_one_oh, group_baseline, reboots):
    node, agent = fleet.id("p0"), fleet["p0"]
    group_baseline()
    before = reboots["marks"].read_text().count("\n") if reboots["marks"].exists() else 0
    cid = send_patch(ssm, node, "Install", RebootOption="RebootIfNeeded")
    # The agent installs, reports, then reboots (here: is killed) before the command ends.
    assert agent.wait_exit(120) is not None, agent.log_tail()
    assert reboots["marks"].read_text().count("\n") == before + 1
    assert [installed_version(p) for p in PACKAGES] == ["1.1", "2.0", "2.0"]
    assert ssm.get_command_invocation(CommandId=cid, InstanceId=node)["Status"] == "InProgress"
    # Back up: the invocation completes, once.
    agent.start()
    inv = wait_patch(ssm, node, cid)
    assert inv["Status"] == "Success", (inv["StandardOutputContent"], inv["StandardErrorContent"])
    assert "rebooting the node" in inv["StandardOutputContent"]
    assert {n: p["State"] for n, p in ours(ssm, node).items()} == dict.fromkeys(PACKAGES, "Installed")
    s = state(ssm, node)
    assert (s["RebootOption"], s["InstalledPendingRebootCount"]) == ("RebootIfNeeded", 0)
    assert reboots["marks"].read_text().count("\n") == before + 1
    fleet.ensure_up(ssm)


def test_nothing_to_install_means_no_reboot(ssm, fleet, repo, at_one_oh, group_baseline, reboots):
    node = fleet.id("p0")
    group_baseline(ApprovalRules={"PatchRules": [{**our_rule(), "PatchFilterGroup": {"PatchFilters": [{"Key": "SECTION", "Values": ["steward-e2e-nothing"]}]}}]})
    before = reboots["marks"].read_text() if reboots["marks"].exists() else ""
    inv = run_patch(ssm, node, "Install", RebootOption="RebootIfNeeded")
    assert inv["Status"] == "Success" and "rebooting" not in inv["StandardOutputContent"]
    assert (reboots["marks"].read_text() if reboots["marks"].exists() else "") == before
    assert fleet["p0"].running


def test_the_fleet_knows_its_repositories(ssm, fleet, repo, at_one_oh, group_baseline):
    node = fleet.id("p0")
    bid = group_baseline(RejectedPatches=[f"{ALPHA}=1.1"])
    assert run_patch(ssm, node, "Scan")["Status"] == "Success"
    # What the scan saw of our packages' updates, with their repositories' facts.
    seen = collect(
        ssm.describe_available_patches, "Patches", Filters=[{"Key": "NAME", "Values": ["steward-e2e-patch-*"]}]
    )
    assert sorted((p["Name"], p["Version"], p["Repository"], p["Classification"]) for p in seen) == [
        (ALPHA, "1.1", SECURITY, "Security"),
        (ALPHA, "1.2", UPDATES, ""),
        (BETA, "2.0", SECURITY, "Security"),
        (GAMMA, "2.0", SECURITY, "Security"),
    ]
    assert {p["Product"] for p in seen} == {state_product(ssm, node)}
    only_security = collect(
        ssm.describe_available_patches,
        "Patches",
        Filters=[{"Key": "NAME", "Values": [ALPHA]}, {"Key": "REPOSITORY", "Values": ["*-updates"]}],
    )
    assert [p["Version"] for p in only_security] == ["1.2"]
    # How this baseline treats them.
    effective = collect(ssm.describe_effective_patches_for_patch_baseline, "EffectivePatches", BaselineId=bid)
    ours_only = {
        (e["Patch"]["Name"], e["Patch"]["Version"]): e["PatchStatus"]["DeploymentStatus"]
        for e in effective
        if e["Patch"]["Name"].startswith("steward-e2e-patch-")
    }
    assert ours_only == {(ALPHA, "1.1"): "EXPLICIT_REJECTED", (BETA, "2.0"): "APPROVED", (GAMMA, "2.0"): "APPROVED"}
    # The properties a Debian baseline can name.
    products = [p["Name"] for p in ssm.describe_patch_properties(OperatingSystem="DEBIAN", Property="PRODUCT")["Properties"]]
    assert "Debian12" in products and state_product(ssm, node) in products
    priorities = ssm.describe_patch_properties(OperatingSystem="DEBIAN", Property="PRIORITY")["Properties"]
    assert [p["Name"] for p in priorities] == ["Required", "Important", "Standard", "Optional", "Extra"]
    with raises_aws("ValidationException"):
        ssm.describe_patch_properties(OperatingSystem="DEBIAN", Property="MSRC_SEVERITY")
    with raises_aws("InvalidFilter"):
        ssm.describe_available_patches(Filters=[{"Key": "COLOUR", "Values": ["x"]}])


def state_product(ssm, node: str) -> str:
    """The product the node reports itself as (Debian12 on this machine)."""
    text = Path("/etc/os-release").read_text()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    name, version = fields["ID"].strip('"'), fields.get("VERSION_ID", "").strip('"')
    return {"debian": f"Debian{version.split('.')[0]}", "ubuntu": f"Ubuntu{version}"}[name]


def fetch_snapshot(server, url: str) -> tuple[int, dict | None]:
    """GETs a snapshot URL without signing, as a node would."""
    try:
        with urllib.request.urlopen(url, timeout=10, context=server._ssl_context()) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def test_deployable_snapshot_for_a_node(server, ssm, fleet, repo, group_baseline):
    """The snapshot a node would apply: its group's baseline, or an override, at an unsigned URL
    that only its token opens, until it expires a day later. Moves the server's clock."""
    node = fleet.id("p0")
    bid = group_baseline()
    snapshot_id = str(uuid.uuid4())
    got = ssm.get_deployable_patch_snapshot_for_instance(InstanceId=node, SnapshotId=snapshot_id)
    assert (got["InstanceId"], got["SnapshotId"], got["Product"]) == (node, snapshot_id, state_product(ssm, node))
    status, body = fetch_snapshot(server, got["SnapshotDownloadUrl"])
    assert status == 200
    assert (body["SnapshotId"], body["PatchGroup"], body["Baseline"]["BaselineId"]) == (snapshot_id, GROUP, bid)

    override = {"OperatingSystem": "DEBIAN", "RejectedPatches": [ALPHA], "ApprovalRules": {"PatchRules": [our_rule()]}}
    by_override = ssm.get_deployable_patch_snapshot_for_instance(
        InstanceId=node, SnapshotId=snapshot_id, BaselineOverride=override
    )
    status, body = fetch_snapshot(server, by_override["SnapshotDownloadUrl"])
    assert status == 200 and body["Baseline"]["RejectedPatches"] == [ALPHA]
    assert body["Baseline"]["Name"] == "BaselineOverride"

    # Bad input: SSM errors, nothing handed out.
    with raises_aws("UnsupportedOperatingSystem"):
        ssm.get_deployable_patch_snapshot_for_instance(
            InstanceId=node, SnapshotId=snapshot_id, BaselineOverride={**override, "OperatingSystem": "UBUNTU"}
        )
    late = {**our_rule(), "ApproveAfterDays": 7}
    with raises_aws("ValidationException"):
        ssm.get_deployable_patch_snapshot_for_instance(
            InstanceId=node, SnapshotId=snapshot_id, BaselineOverride={**override, "ApprovalRules": {"PatchRules": [late]}}
        )
    with raises_aws("ValidationException"):
        ssm.get_deployable_patch_snapshot_for_instance(InstanceId=node, SnapshotId="z" * 36)
    with raises_aws("InvalidInstanceId"):
        ssm.get_deployable_patch_snapshot_for_instance(InstanceId="mi-0123456789abcdef0", SnapshotId=snapshot_id)
    # Only the exact token opens a snapshot.
    url = got["SnapshotDownloadUrl"]
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert fetch_snapshot(server, forged)[0] == 404
    assert fetch_snapshot(server, url.rsplit("/", 1)[0] + "/../../")[0] == 404

    # A limited user without the permission gets nothing.
    ak, sk, _ = make_user(server, f"patch-snap-{uid()}", policy(allow(["ssm:DescribePatchBaselines"], ["*"])))
    with raises_aws("AccessDeniedException"):
        as_user(server, "ssm", ak, sk).get_deployable_patch_snapshot_for_instance(InstanceId=node, SnapshotId=snapshot_id)

    # A day later the URL answers no more, and the scheduler erases the snapshot.
    server.advance_clock(25 * 3600)
    assert fetch_snapshot(server, url)[0] == 404


def test_a_maintenance_window_patches_on_schedule(server, ssm, fleet, repo, at_one_oh, group_baseline):
    """Last in the module: it moves the server's clock to the window's start."""
    node = fleet.id("p0")
    group_baseline()
    window = ssm.create_maintenance_window(
        Name=f"patching-{uid()}", Schedule="cron(0 3 ? * SUN *)", Duration=2, Cutoff=1, AllowUnassociatedTargets=False
    )["WindowId"]
    try:
        target = ssm.register_target_with_maintenance_window(
            WindowId=window, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": [GROUP]}]
        )["WindowTargetId"]
        ssm.register_task_with_maintenance_window(
            WindowId=window,
            Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
            TaskArn="AWS-RunPatchBaseline",
            TaskType="RUN_COMMAND",
            Priority=1,
            MaxConcurrency="1",
            MaxErrors="0",
            TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"], "RebootOption": ["NoReboot"]}}},
        )
        assert [installed_version(p) for p in PACKAGES] == ["1.0", "1.0", "1.0"]
        open_window(server, ssm, window)

        def finished():
            runs = ssm.describe_maintenance_window_executions(WindowId=window)["WindowExecutions"]
            return runs[0] if runs and runs[0]["Status"] not in ("PENDING", "IN_PROGRESS") else None

        run = wait_until(finished, 180, "the patching window to finish", interval=0.5)
        assert run["Status"] == "SUCCESS", run
        assert [installed_version(p) for p in PACKAGES] == ["1.1", "2.0", "2.0"]
        s = state(ssm, node)
        assert (s["Operation"], s["InstalledPendingRebootCount"]) == ("Install", 3)
    finally:
        ssm.delete_maintenance_window(WindowId=window)
