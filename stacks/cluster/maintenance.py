"""Cluster layer, planned maintenance: when AKS may upgrade Kubernetes and reimage nodes.

Without a schedule AKS upgrades whenever it likes, so a node reimage can drain the canary in the
middle of an analysis. The two configuration names are fixed by AKS: aksManagedAutoUpgradeSchedule
(the upgradeChannel's Kubernetes upgrades) and aksManagedNodeOSUpgradeSchedule (nodeOsUpgradeChannel).
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import containerservice

from stacks.schema.cluster import ClusterConfig, MaintenanceWindow

AUTO_UPGRADE_SCHEDULE = "aksManagedAutoUpgradeSchedule"
NODE_OS_UPGRADE_SCHEDULE = "aksManagedNodeOSUpgradeSchedule"


def maintenance_windows(
    name: str,
    s: ClusterConfig,
    cluster: containerservice.ManagedCluster,
    resource_group: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> list[containerservice.MaintenanceConfiguration]:
    """One weekly window per upgrade kind the cluster has switched on (children of the cluster in
    Azure: `opts` makes them go with it)."""
    windows = []
    if s.upgrade_channel != "none":
        windows.append((AUTO_UPGRADE_SCHEDULE, "auto-upgrade", s.auto_upgrade_window))
    if s.node_os_upgrade_channel not in ("None", "Unmanaged"):
        windows.append((NODE_OS_UPGRADE_SCHEDULE, "node-os-upgrade", s.node_os_upgrade_window))
    return [
        containerservice.MaintenanceConfiguration(
            f"{name}-{suffix}-window",
            config_name=config_name,
            resource_group_name=resource_group,
            resource_name_=cluster.name,
            maintenance_window=_window(window),
            opts=opts,
        )
        for config_name, suffix, window in windows
    ]


def _window(w: MaintenanceWindow) -> containerservice.MaintenanceWindowArgs:
    return containerservice.MaintenanceWindowArgs(
        schedule=containerservice.ScheduleArgs(
            weekly=containerservice.WeeklyScheduleArgs(day_of_week=w.day_of_week, interval_weeks=1)
        ),
        start_time=w.start_time,
        duration_hours=w.duration_hours,
        utc_offset=w.utc_offset,
    )
