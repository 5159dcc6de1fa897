"""canaryctl doctor's Azure preflight beyond the login: VM sizes and zones, vCPU quota, resource
providers, rights through documented endpoints, and this machine's address in the ranges.

az is scripted with the shapes it prints (tests/doctor_fakes.py); the needs are worked out by
hand here from the fixture stacks, so a change in how doctor counts shows up as a number.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from canaryctl.doctor import read_facts
from canaryctl.egress import EgressUnknown, Ipify
from canaryctl.vcpu_needs import surge
from tests.doctor_fakes import (
    CONTRIBUTOR,
    SUBSCRIPTION,
    TODAY,
    USER_OBJECT_ID,
    FakeEgress,
    FakeRunner,
    account,
    arm,
    assignment,
    error,
    fixture_stacks,
    list_skus,
    location_restriction,
    ok,
    permissions,
    providers,
    run_doctor,
    sku,
    usage,
    zone_restriction,
)

D2, D4 = "Standard_D2s_v5", "Standard_D4s_v5"
PERMISSIONS_OF_GROUP = (
    f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/resourceGroups/"
    "rg-progressive-delivery-{stack}/providers/Microsoft.Authorization/permissions"
    "?api-version=2022-04-01"
)


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    return fixture_stacks(tmp_path, monkeypatch)


def skus(*entries):
    return FakeRunner(answers={("az", "vm", "list-skus"): list_skus(entries)})


# ---- vm sizes ----


def test_each_size_is_looked_up_with_restricted_ones_included(stacks):
    runner = FakeRunner()
    result = run_doctor("dev", runner)
    assert result.checks["vm sizes"] == (
        "PASS",
        f"{D2} (2 vCPUs, standardDSv5Family), {D4} (4 vCPUs, standardDSv5Family) offered to "
        "this subscription in westeurope",
        "",
    )
    asked = [call.args for call in runner.ran("az", "vm", "list-skus")]
    assert [args[args.index("--size") + 1] for args in asked] == [D2, D4]
    for args in asked:
        assert args[:5] == ("az", "vm", "list-skus", "--location", "westeurope")
        assert {"--all", "virtualMachines", "--subscription", SUBSCRIPTION} <= set(args)
        assert "--zone" not in args, "--zone would hide a size that has no zones"


def test_a_size_the_region_does_not_offer_fails_even_when_a_longer_name_matches(stacks):
    """az's --size matches part of a name: Standard_D4s_v5_Promo is not Standard_D4s_v5."""
    result = run_doctor("dev", skus(sku(D2, 2), sku(f"{D4}_Promo", 8)))
    status, line, fix = result.checks["vm sizes"]
    assert (status, line) == ("FAIL", f"{D4} (user pool) is not offered in westeurope")
    assert "az vm list-skus --location westeurope --resource-type virtualMachines" in fix
    assert result.checks["vcpu quota"] == (
        "SKIP",
        "needs every VM size's vCPUs (see vm sizes)",
        "",
    )


@pytest.mark.parametrize("reason", ["NotAvailableForSubscription", "QuotaId"])
def test_a_size_closed_to_the_subscription_fails_with_its_reason(stacks, reason):
    closed = sku(D2, 2, restrictions=[location_restriction(reason)])
    result = run_doctor("dev", skus(closed, sku(D4, 4)))
    status, line, fix = result.checks["vm sizes"]
    assert (status, line) == (
        "FAIL",
        f"{D2} (system pool) is closed to this subscription in westeurope ({reason})",
    )
    assert "region-access-request-process" in fix


def test_every_configured_zone_must_offer_the_size(stacks):
    result = run_doctor("prod", skus(sku(D4, 4, zones=("1", "2"))))
    assert result.checks["vm sizes"][:2] == (
        "FAIL",
        f"{D4} (system pool) is not offered in zone 3 of westeurope; "
        f"{D4} (user pool) is not offered in zone 3 of westeurope",
    )
    assert "availabilityZones" in result.checks["vm sizes"][2]


def test_a_zone_restricted_for_the_subscription_fails(stacks):
    result = run_doctor("prod", skus(sku(D4, 4, restrictions=[zone_restriction("3")])))
    assert result.checks["vm sizes"][1].startswith(
        f"{D4} (system pool) is closed to this subscription in zone 3 of westeurope"
    )
    # A restriction in a zone the stack does not use does not matter.
    elsewhere = run_doctor(
        "dev", skus(sku(D2, 2, restrictions=[zone_restriction("3")]), sku(D4, 4))
    )
    assert elsewhere.checks["vm sizes"][0] == "PASS"


# ---- vcpu quota ----


def test_the_needs_at_each_stage(stacks):
    """prod: system 3 x D4s_v5 (4 vCPUs), user 3 to 9 x D4s_v5, zones 1-3, AKS's default surge."""
    assert [surge(n) for n in (1, 3, 9, 10, 11, 25)] == [1, 1, 1, 1, 2, 3]
    runner = FakeRunner()
    result = run_doctor("prod", runner)
    (asked,) = runner.ran("az", "vm", "list-usage")
    assert asked.args[3:5] == ("--location", "westeurope")
    status, line, _ = result.checks["vcpu quota"]
    assert (status, line) == (
        "PASS",
        "the stack fits its vCPU quota in westeurope at creation, at the autoscaler maximum "
        "and during an upgrade",
    )
    creation = 3 * 4 + 3 * 4  # 24, as the issue counts it
    maximum = 3 * 4 + 9 * 4  # 48
    upgrade = (3 + 1) * 4 + (9 + 1) * 4  # 56
    replacing = 3 * 4 + 2 * 9 * 4  # 84: the new user pool beside the old one, both at maximum
    needs = (
        f"needs {creation} at creation, {maximum} at the autoscaler maximum, {upgrade} during "
        f"an upgrade, {replacing} replacing the user pool"
    )
    assert result.details["vcpu quota"] == [
        f"Standard DSv5 Family vCPUs (standardDSv5Family): 100 of 100 free; {needs}",
        f"Total Regional vCPUs (cores): 100 of 100 free; {needs}",
    ]


def test_too_little_family_quota_fails_at_creation_and_asks_for_the_largest_need(stacks):
    result = run_doctor("prod", FakeRunner(answers={("az", "vm", "list-usage"): usage(family=20)}))
    status, line, fix = result.checks["vcpu quota"]
    assert (status, line) == (
        "FAIL",
        "not enough vCPU quota in westeurope: Standard DSv5 Family vCPUs (standardDSv5Family): "
        "at creation the stack needs 24, 20 free",
    )
    assert fix.startswith(
        "ask for a Standard DSv5 Family vCPUs (standardDSv5Family) limit of at least 56 in "
        "westeurope (https://learn.microsoft.com/azure/quotas/per-vm-quota-requests)"
    )
    assert fix.endswith("or lower systemNodeCount, nodeMaxCount or the VM sizes")


def test_the_regional_total_counts_too_and_vcpus_used_elsewhere_are_not_free(stacks):
    result = run_doctor(
        "prod", FakeRunner(answers={("az", "vm", "list-usage"): usage(total=100, used=50)})
    )
    status, line, fix = result.checks["vcpu quota"]
    assert status == "FAIL"
    assert (
        "Standard DSv5 Family vCPUs (standardDSv5Family): during an upgrade the stack needs 56, 50 free"
        in line
    )
    assert "Total Regional vCPUs (cores): during an upgrade the stack needs 56, 50 free" in line
    assert "limit of at least 106" in fix  # 50 used elsewhere + 56
    assert "regional-quota-requests" in fix


def test_az_before_its_aaz_port_printed_numbers_as_text(stacks):
    result = run_doctor(
        "dev", FakeRunner(answers={("az", "vm", "list-usage"): usage(as_text=True)})
    )
    assert result.checks["vcpu quota"][0] == "PASS"
    assert result.details["vcpu quota"][0].startswith(
        "Standard DSv5 Family vCPUs (standardDSv5Family): 100 of 100 free; needs 10 at creation"
    )


def live_cluster(*pools):
    return ok([{"name": n, "mode": m, "vmSize": s, "count": c} for n, m, s, c in pools])


def test_a_running_cluster_counts_its_own_nodes_as_free(stacks):
    """Deployed prod: 3 system + 5 user nodes of D4s_v5 hold 32 of the 60 used vCPUs."""
    # The user pool's AKS name is the program's (stacks/cluster/pools.py), from the config.
    name = read_facts(stacks, "prod", TODAY)[0].user_pool_name
    runner = FakeRunner(
        answers={
            ("az", "group", "exists"): ok("true"),
            ("az", "aks", "show"): live_cluster(("system", "System", D4, 3), (name, "User", D4, 5)),
            ("az", "vm", "list-usage"): usage(family=60, total=60, used=32),
        }
    )
    result = run_doctor("prod", runner)
    assert result.checks["vcpu quota"][:2] == (
        "PASS",
        "the stack fits its vCPU quota in westeurope at the autoscaler maximum and during an "
        "upgrade",
    )
    assert result.details["vcpu quota"][0] == (
        "Standard DSv5 Family vCPUs (standardDSv5Family): 60 of 60 free (this cluster's 32 "
        "counted as free); needs 48 at the autoscaler maximum, 56 during an upgrade, 84 "
        "replacing the user pool"
    )
    assert result.details["vcpu quota"][-1].startswith(
        "replacing the user pool (a new nodeVmSize or availabilityZones) would need 84"
    )
    (show,) = runner.ran("az", "aks", "show")
    assert show.args[3:9] == (
        "--resource-group",
        "rg-progressive-delivery-prod",
        "--name",
        "aks-prod",
        "--query",
        "agentPoolProfiles",
    )


def test_a_pending_user_pool_replacement_must_fit(stacks):
    """The running user pool is E4s_v5 x 5; the config asks for D4s_v5: `pulumi up` creates the
    new pool before it deletes the old one, so both run at once."""
    runner = FakeRunner(
        answers={
            ("az", "group", "exists"): ok("true"),
            ("az", "aks", "show"): live_cluster(
                ("system", "System", D4, 3), ("userdeadbeef", "User", "Standard_E4s_v5", 5)
            ),
            ("az", "vm", "list-usage"): ok(
                [
                    {
                        "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"},
                        "currentValue": 32,
                        "limit": 60,
                    },
                    {
                        "name": {
                            "value": "standardDSv5Family",
                            "localizedValue": "Standard DSv5 Family vCPUs",
                        },
                        "currentValue": 12,
                        "limit": 100,
                    },
                    {
                        "name": {
                            "value": "standardESv5Family",
                            "localizedValue": "Standard ESv5 Family vCPUs",
                        },
                        "currentValue": 20,
                        "limit": 20,
                    },
                ]
            ),
        }
    )
    result = run_doctor("prod", runner)
    status, line, _ = result.checks["vcpu quota"]
    # system 12 + new user pool 36 + the old one as it runs, 5 x 4 = 20: 68 of 60 in total.
    assert (status, line) == (
        "FAIL",
        "not enough vCPU quota in westeurope: Total Regional vCPUs (cores): replacing the user "
        "pool the stack needs 68, 60 free",
    )
    # The old pool's size is looked up too, for its vCPUs and family.
    assert [c.args[6] for c in runner.ran("az", "vm", "list-skus")] == [D4, "Standard_E4s_v5"]


def test_an_unreadable_cluster_is_a_failure_not_a_guess(stacks):
    runner = FakeRunner(
        answers={
            ("az", "group", "exists"): ok("true"),
            ("az", "aks", "show"): error("ERROR: (AuthorizationFailed) no read access"),
        }
    )
    status, line, _ = run_doctor("prod", runner).checks["vcpu quota"]
    assert (status, line) == (
        "FAIL",
        "cannot read the quota in westeurope: ERROR: (AuthorizationFailed) no read access",
    )


# ---- resource providers ----


def test_providers_registered(stacks):
    runner = FakeRunner()
    result = run_doctor("dev", runner)
    assert result.checks["resource providers"][:2] == (
        "PASS",
        "registered: Microsoft.ContainerService, Microsoft.Compute, Microsoft.Network, "
        "Microsoft.Storage, Microsoft.ManagedIdentity",
    )
    first = runner.ran("az", "provider", "show")[0].args
    assert first[3:7] == (
        "--namespace",
        "Microsoft.ContainerService",
        "--query",
        "registrationState",
    )


def test_an_unregistered_provider_fails_with_the_register_command(stacks):
    runner = FakeRunner(
        answers={("az", "provider", "show"): providers(Microsoft_Compute="NotRegistered")}
    )
    status, line, fix = run_doctor("dev", runner).checks["resource providers"]
    assert (status, line) == (
        "FAIL",
        f"not registered on subscription {SUBSCRIPTION}: Microsoft.Compute (NotRegistered); "
        "`pulumi up` would stop with MissingSubscriptionRegistration",
    )
    assert fix.startswith("`az provider register --namespace Microsoft.Compute`")


def test_a_provider_still_registering_passes_with_a_note(stacks):
    runner = FakeRunner(
        answers={("az", "provider", "show"): providers(Microsoft_Network="Registering")}
    )
    status, line, _ = run_doctor("dev", runner).checks["resource providers"]
    assert status == "PASS" and "Microsoft.Network still registering" in line


# ---- rights ----


def urls(runner):
    return [c.args[c.args.index("--url") + 1] for c in runner.ran("az", "rest")]


def test_an_existing_group_is_asked_for_its_own_permissions(stacks):
    runner = FakeRunner(
        answers={
            ("az", "group", "exists"): ok("true"),
            ("az", "rest"): arm(resource_group=permissions(CONTRIBUTOR)),
        }
    )
    result = run_doctor("dev", runner)
    status, line, fix = result.checks["role assignments"]
    assert status == "FAIL"
    assert line.startswith(
        "you may not create role assignments on resource group rg-progressive-delivery-dev "
        "(Microsoft.Authorization/roleAssignments/write)"
    )
    assert fix == (
        "ask for Owner, User Access Administrator or Role Based Access Control Administrator on "
        f"subscription {SUBSCRIPTION} or resource group rg-progressive-delivery-dev"
    )
    assert result.checks["create resources"][0] == "PASS"
    assert urls(runner) == [PERMISSIONS_OF_GROUP.format(stack="dev")]


def test_before_the_group_exists_only_assignments_at_the_subscription_or_above_count(stacks):
    """No undocumented subscription-level permissions call: the caller's role assignments there
    (with their groups') and those roles' definitions."""
    runner = FakeRunner(
        answers={
            ("az", "role", "assignment", "list"): ok(
                [
                    assignment("Contributor"),
                    # Owner of another group does not reach a group that does not exist yet.
                    assignment("Owner", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/other"),
                ]
            )
        }
    )
    result = run_doctor("dev", runner)
    assert result.checks["role assignments"][0] == "FAIL"
    assert result.checks["create resources"][0] == "PASS"
    assert (
        "resource group rg-progressive-delivery-dev does not exist yet"
        in result.checks["create resources"][1]
    )
    (listed,) = runner.ran("az", "role", "assignment", "list")
    assert listed.args[4:] == (
        "--all",
        "--assignee",
        USER_OBJECT_ID,
        "--include-groups",
        "--subscription",
        SUBSCRIPTION,
        "--output",
        "json",
    )
    assert urls(runner) == [
        f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/providers/"
        "Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
        "?api-version=2022-04-01"
    ]
    assert not any("Authorization/permissions" in url for url in urls(runner))


def test_an_assignment_on_a_management_group_counts(stacks):
    above = assignment(
        "User Access Administrator", "/providers/Microsoft.Management/managementGroups/corp"
    )
    runner = FakeRunner(
        answers={("az", "role", "assignment", "list"): ok([assignment("Contributor"), above])}
    )
    result = run_doctor("dev", runner)
    assert result.checks["role assignments"][0] == "PASS"
    assert result.checks["create resources"][0] == "PASS"


def test_a_service_principal_is_looked_up_by_its_app_id(stacks):
    app_id = "11111111-2222-3333-4444-555555555555"
    runner = FakeRunner(
        answers={("az", "account", "show"): account(user=app_id, kind="servicePrincipal")}
    )
    run_doctor("dev", runner)
    assert runner.ran("az", "ad") == []
    (listed,) = runner.ran("az", "role", "assignment", "list")
    assert listed.args[listed.args.index("--assignee") + 1] == app_id


def test_a_managed_identity_or_a_silent_graph_is_a_skip_that_says_why(stacks):
    managed = FakeRunner(
        answers={
            ("az", "account", "show"): account(
                user="systemAssignedIdentity", kind="servicePrincipal"
            )
        }
    )
    status, line, _ = run_doctor("dev", managed).checks["role assignments"]
    assert status == "SKIP" and "managed identity (systemAssignedIdentity)" in line
    silent = FakeRunner(
        answers={("az", "ad", "signed-in-user", "show"): error("ERROR: Insufficient privileges")}
    )
    status, line, _ = run_doctor("dev", silent).checks["create resources"]
    assert status == "SKIP"
    assert "Microsoft Graph does not tell who you are" in line
    assert "documented for resource groups and resources only" in line


def test_no_right_to_read_assignments_fails(stacks):
    runner = FakeRunner(
        answers={("az", "role", "assignment", "list"): error("ERROR: (AuthorizationFailed) denied")}
    )
    status, line, fix = run_doctor("dev", runner).checks["role assignments"]
    assert status == "FAIL" and "AuthorizationFailed" in line
    assert fix == "you need at least Reader there; ask a subscription Owner"


# ---- api server access (egress) ----


def test_this_machines_address_must_be_in_the_ranges(stacks):
    outside = run_doctor("prod", FakeRunner(), FakeEgress("203.0.113.9"))
    assert outside.checks["api server access"] == (
        "FAIL",
        "this machine's address 203.0.113.9 (from https://api.ipify.org) is outside "
        "apiServerAuthorizedIpRanges (198.51.100.0/24): `pulumi up` and kubectl from here would "
        "get no answer from the API server",
        "`pulumi config set --stack prod --path 'apiServerAuthorizedIpRanges[1]' 203.0.113.9/32`, "
        "or run from a listed network",
    )
    inside = run_doctor("prod", FakeRunner(), FakeEgress("198.51.100.7"))
    assert inside.checks["api server access"][:2] == (
        "PASS",
        "this machine's address 198.51.100.7 (from https://api.ipify.org) is in "
        "apiServerAuthorizedIpRanges (198.51.100.0/24)",
    )


def test_offline_the_egress_check_is_skipped_with_why(stacks):
    result = run_doctor("prod", FakeRunner(), FakeEgress(None))
    status, line, _ = result.checks["api server access"]
    assert status == "SKIP"
    assert "https://api.ipify.org did not answer (no network)" in line
    assert "198.51.100.0/24" in line


def test_without_ranges_nothing_is_looked_up(stacks):
    egress = FakeEgress()
    result = run_doctor("dev", FakeRunner(), egress)
    assert result.checks["api server access"][0] == "SKIP"
    assert egress.asked == 0


def test_the_egress_check_runs_without_az(stacks):
    result = run_doctor("prod", FakeRunner(tools={"pulumi", "kubectl", "kubelogin"}))
    assert result.checks["azure login"][0] == "SKIP"
    assert result.checks["api server access"][0] == "PASS"


class _Ipify(BaseHTTPRequestHandler):
    answer = b"198.51.100.7"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(self.server.answer)  # type: ignore[attr-defined]

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def ipify() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ipify)
    server.answer = b"198.51.100.7\n"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_ipify_reads_the_plain_text_answer(ipify):
    url = f"http://127.0.0.1:{ipify.server_address[1]}/"
    assert str(Ipify(url).address()) == "198.51.100.7"
    ipify.answer = b"<html>captive portal</html>"  # type: ignore[attr-defined]
    with pytest.raises(EgressUnknown, match="not an address"):
        Ipify(url).address()
    with pytest.raises(EgressUnknown, match="did not answer"):
        Ipify("http://127.0.0.1:9/").address()
