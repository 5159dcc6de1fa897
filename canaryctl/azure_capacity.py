"""doctor's capacity checks: the stack's VM sizes where it puts them, and its vCPU quota.

vm sizes    `az vm list-skus --location L --size SIZE --all --resource-type virtualMachines`
            per size: the size must be offered in the region and in every configured zone
            (locationInfo[].zones), and not restricted for the subscription there (restrictions[]
            of type Location, or of type Zone for those zones; reasonCode NotAvailableForSubscription
            or QuotaId). `--all` keeps restricted sizes in the answer (by default az hides them);
            `--zone` is not used: it drops sizes without zones, which would then look unknown.
            Its capabilities give each size's vCPUs and `family`, the name its quota goes by.
vcpu quota  `az vm list-usage --location L`: the family's vCPUs and "Total Regional vCPUs" (name
            `cores`) must hold what the stack needs (vcpu_needs.needs). A cluster that exists already
            uses part of the quota itself (`az aks show`): its nodes count as free for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from canaryctl.tools import ToolFailed
from canaryctl.vcpu_needs import TOTAL, LivePool, Sku, needs, sku_from

if TYPE_CHECKING:
    from canaryctl.az import Az
    from canaryctl.preflight import Report, StackFacts

SIZES, QUOTA = "vm sizes", "vcpu quota"
SKUS_TIMEOUT_SECONDS = 180  # the answer covers every size in the region before az filters it
REQUEST_QUOTA = "https://learn.microsoft.com/azure/quotas/per-vm-quota-requests"
REQUEST_REGIONAL = "https://learn.microsoft.com/azure/quotas/regional-quota-requests"
REQUEST_SIZE = (
    "https://learn.microsoft.com/troubleshoot/azure/general/region-access-request-process"
)


def run(report: Report, az: Az, facts: StackFacts, group_exists: bool | None) -> None:
    sizes = sorted({p.vm_size for p in facts.pools})
    try:
        skus = {size.lower(): _sku(az, size, facts.location) for size in sizes}
    except ToolFailed as error:
        report.add(
            "FAIL",
            SIZES,
            f"`az vm list-skus --location {facts.location}` failed: {error}",
            "run it by hand to see why (a location az does not know?)",
        )
        report.add("SKIP", QUOTA, "needs the VM sizes (see vm sizes)")
        return
    _judge_sizes(report, facts, skus)
    known = {name: sku for name, sku in skus.items() if sku is not None and sku.vcpus > 0}
    if len(known) < len(skus):
        report.add("SKIP", QUOTA, "needs every VM size's vCPUs (see vm sizes)")
        return
    _quota(report, az, facts, known, group_exists)


def _sku(az: Az, size: str, location: str) -> Sku | None:
    answer = az(
        "vm",
        "list-skus",
        "--location",
        location,
        "--size",
        size,
        "--all",
        "--resource-type",
        "virtualMachines",
        timeout=SKUS_TIMEOUT_SECONDS,
    )
    return sku_from(answer, size, location)


def _judge_sizes(report: Report, facts: StackFacts, skus: Mapping[str, Sku | None]) -> None:
    where, wanted = facts.location, set(facts.availability_zones)
    problems, fixes = [], []
    for pool in facts.pools:
        sku = skus[pool.vm_size.lower()]
        size = f"{pool.vm_size} ({pool.name} pool)"
        if sku is None:
            problems.append(f"{size} is not offered in {where}")
            fixes.append(
                f"pick a size {where} offers (`az vm list-skus --location {where} "
                "--resource-type virtualMachines --output table`)"
            )
        elif sku.closed:
            problems.append(f"{size} is closed to this subscription in {where} ({sku.closed})")
            fixes.append(f"pick another size, or ask Azure for it: {REQUEST_SIZE}")
        elif wanted - sku.zones:
            missing = ", ".join(sorted(wanted - sku.zones))
            problems.append(f"{size} is not offered in zone {missing} of {where}")
            fixes.append("pick availabilityZones the size is offered in, or another size")
        elif wanted & sku.closed_zones:
            closed = ", ".join(sorted(wanted & sku.closed_zones))
            problems.append(f"{size} is closed to this subscription in zone {closed} of {where}")
            fixes.append(
                f"pick other availabilityZones or another size, or ask Azure: {REQUEST_SIZE}"
            )
    if problems:
        report.add(
            "FAIL", SIZES, "; ".join(dict.fromkeys(problems)), "; ".join(dict.fromkeys(fixes))
        )
        return
    zones = f" zones {', '.join(sorted(wanted))}" if wanted else ""
    listed = ", ".join(
        f"{sku.name} ({sku.vcpus} vCPUs, {sku.family})"
        for sku in dict.fromkeys(skus[p.vm_size.lower()] for p in facts.pools)
        if sku is not None
    )
    report.add("PASS", SIZES, f"{listed} offered to this subscription in {where}{zones}")


def _quota(
    report: Report, az: Az, facts: StackFacts, skus: dict[str, Sku], group_exists: bool | None
) -> None:
    try:
        live = _live_pools(az, facts) if group_exists is not False else []
        for pool in live:  # a running pool of another size (the one being replaced)
            if pool.vm_size.lower() not in skus:
                sku = _sku(az, pool.vm_size, facts.location)
                if sku is None:
                    raise ToolFailed(f"no VM size {pool.vm_size} in {facts.location}")
                skus[pool.vm_size.lower()] = sku
        usage = _usage(az("vm", "list-usage", "--location", facts.location))
    except ToolFailed as error:
        report.add(
            "FAIL",
            QUOTA,
            f"cannot read the quota in {facts.location}: {error}",
            f"run `az vm list-usage --location {facts.location}` by hand to see why",
        )
        return
    own: Counter[str] = Counter()
    for pool in live:
        sku = skus[pool.vm_size.lower()]
        own[sku.family.lower()] += pool.count * sku.vcpus
        own[TOTAL] += pool.count * sku.vcpus
    stages = needs(facts.pools, skus, live, facts.user_pool_name)
    must = [stage for stage in stages if stage.must_fit]
    names = sorted({n for stage in stages for n in stage.vcpus}, key=lambda n: (n == TOTAL, n))
    details, short, asks, notes = [], [], [], []
    for name in names:
        if name not in usage:
            report.add(
                "SKIP", QUOTA, f"`az vm list-usage` lists no quota {name} in {facts.location}"
            )
            return
        title, used, limit = usage[name]
        free = limit - used + own[name]
        mine = f" (this cluster's {own[name]} counted as free)" if own[name] else ""
        wants = ", ".join(f"{stage.vcpus[name]} {stage.name}" for stage in stages)
        details.append(f"{title}: {free} of {limit} free{mine}; needs {wants}")
        first = next((stage for stage in must if stage.vcpus[name] > free), None)
        if first is not None:
            short.append(f"{title}: {first.name} the stack needs {first.vcpus[name]}, {free} free")
            needed = used - own[name] + max(stage.vcpus[name] for stage in must)
            link = REQUEST_REGIONAL if name == TOTAL else REQUEST_QUOTA
            asks.append(
                f"ask for a {title} limit of at least {needed} in {facts.location} ({link})"
            )
        notes += [
            f"{stage.name} (a new nodeVmSize or availabilityZones) would need "
            f"{stage.vcpus[name]} {title}: ask for more before such a change"
            for stage in stages
            if not stage.must_fit and stage.vcpus[name] > free
        ]
    if short:
        report.add(
            "FAIL",
            QUOTA,
            f"not enough vCPU quota in {facts.location}: {'; '.join(short)}",
            f"{'; '.join(asks)}; or lower systemNodeCount, nodeMaxCount or the VM sizes",
            details=tuple(details),
        )
        return
    report.add(
        "PASS",
        QUOTA,
        f"the stack fits its vCPU quota in {facts.location} "
        f"{_listed([stage.name for stage in must])}",
        details=(*details, *notes),
    )


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _live_pools(az: Az, facts: StackFacts) -> list[LivePool]:
    """The running cluster's pools; none when it does not exist (yet)."""
    try:
        profiles = az(
            "aks",
            "show",
            "--resource-group",
            facts.resource_group,
            "--name",
            facts.cluster_name,
            "--query",
            "agentPoolProfiles",
        )
    except ToolFailed as error:
        if "ResourceNotFound" in str(error) or "ResourceGroupNotFound" in str(error):
            return []
        raise
    return [
        LivePool(
            str(p.get("name") or ""),
            str(p.get("mode") or ""),
            str(p.get("vmSize") or ""),
            int(p.get("count") or 0),
        )
        for p in profiles or []
        if isinstance(p, dict)
    ]


def _usage(answer: Any) -> dict[str, tuple[str, int, int]]:
    """{quota name in lower case: (title, used, limit)} from `az vm list-usage`; az before its
    aaz port printed the numbers as text (transform_vm_usage_list), so both are read."""
    usage = {}
    for entry in answer if isinstance(answer, list) else []:
        name = entry.get("name") or {}
        value = str(name.get("value") or "")
        title = str(name.get("localizedValue") or entry.get("localName") or value)
        try:
            used, limit = int(entry.get("currentValue")), int(entry.get("limit"))
        except (TypeError, ValueError):
            continue
        usage[value.lower()] = (f"{title} ({value})", used, limit)
    return usage
