"""Azure public-cloud regions: the one list `location` is checked against, with a "did you mean",
and which of them have availability zones.

Both from Microsoft's "Azure regions list" (MicrosoftDocs/reliability-docs,
articles/reliability/regions-list.md, table "All": the programmatic names, the "Availability zone
support" and "Geography" columns; ms.date 2025-09-23, last changed 2026-07-28 by commit c7803c5,
"Update region list - India South Central GA"). Some regions are restricted to customers with a
need in the country (australiacentral2, brazilsoutheast, francesouth, germanynorth, norwaywest,
southafricawest, switzerlandwest, uaecentral); they are still valid names. `az account
list-locations -o table` shows what a subscription can use. A region with zones may still not
offer a VM size in every zone: `canaryctl doctor` asks Azure (`az vm list-skus`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

ZONES_TABLE_DATE = "2026-07-28"
"""When the zone column below was last checked against Microsoft's list (see the docstring)."""

# Programmatic name -> the list's "Geography" (the data-residency boundary).
GEOGRAPHY: dict[str, str] = {
    "australiacentral": "Australia",
    "australiacentral2": "Australia",
    "australiaeast": "Australia",
    "australiasoutheast": "Australia",
    "austriaeast": "Austria",
    "belgiumcentral": "Belgium",
    "brazilsouth": "Brazil",
    "brazilsoutheast": "Brazil",
    "canadacentral": "Canada",
    "canadaeast": "Canada",
    "centralindia": "India",
    "centralus": "United States",
    "chilecentral": "Chile",
    "denmarkeast": "Denmark",
    "eastasia": "Asia Pacific",
    "eastus": "United States",
    "eastus2": "United States",
    "francecentral": "France",
    "francesouth": "France",
    "germanynorth": "Germany",
    "germanywestcentral": "Germany",
    "indiasouthcentral": "India",
    "indonesiacentral": "Indonesia",
    "israelcentral": "Israel",
    "italynorth": "Italy",
    "japaneast": "Japan",
    "japanwest": "Japan",
    "koreacentral": "Korea",
    "koreasouth": "Korea",
    "malaysiawest": "Malaysia",
    "mexicocentral": "Mexico",
    "newzealandnorth": "New Zealand",
    "northcentralus": "United States",
    "northeurope": "Europe",
    "norwayeast": "Norway",
    "norwaywest": "Norway",
    "polandcentral": "Poland",
    "qatarcentral": "Qatar",
    "southafricanorth": "South Africa",
    "southafricawest": "South Africa",
    "southcentralus": "United States",
    "southeastasia": "Asia Pacific",
    "southindia": "India",
    "spaincentral": "Spain",
    "swedencentral": "Sweden",
    "switzerlandnorth": "Switzerland",
    "switzerlandwest": "Switzerland",
    "uaecentral": "UAE",
    "uaenorth": "UAE",
    "uksouth": "United Kingdom",
    "ukwest": "United Kingdom",
    "westcentralus": "United States",
    "westeurope": "Europe",
    "westindia": "India",
    "westus": "United States",
    "westus2": "United States",
    "westus3": "United States",
}
PUBLIC_REGIONS = frozenset(GEOGRAPHY)

# The regions the list marks with availability zone support. AKS refuses zones anywhere else
# (AvailabilityZoneNotSupported).
REGIONS_WITH_ZONES = frozenset(
    [
        "australiaeast",
        "austriaeast",
        "belgiumcentral",
        "brazilsouth",
        "canadacentral",
        "centralindia",
        "centralus",
        "chilecentral",
        "denmarkeast",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "germanywestcentral",
        "indiasouthcentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "japaneast",
        "japanwest",
        "koreacentral",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "northeurope",
        "norwayeast",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "spaincentral",
        "swedencentral",
        "switzerlandnorth",
        "uaenorth",
        "uksouth",
        "westeurope",
        "westus2",
        "westus3",
    ]
)


def region_problem(value: str) -> str | None:
    """What is allowed instead of `value`, or None when it is an Azure public region."""
    if value in PUBLIC_REGIONS:
        return None
    # "West Europe" (the display name) and "West-Europe" mean westeurope.
    squashed = re.sub(r"[\s_-]", "", value.lower())
    close = (
        [squashed]
        if squashed in PUBLIC_REGIONS
        else difflib.get_close_matches(squashed, PUBLIC_REGIONS, n=1, cutoff=0.75)
    )
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        "an Azure public region's programmatic name, lower case without spaces, e.g. westeurope "
        f"(`az account list-locations -o table`){hint}"
    )


def zone_problem(location: str, zones: Sequence[str]) -> str | None:
    """What is allowed instead of `zones` in `location`, or None when AKS can use them there.

    Only judges a region the list knows: region_problem reports any other `location`.
    """
    if not zones or location not in PUBLIC_REGIONS or location in REGIONS_WITH_ZONES:
        return None
    geography = GEOGRAPHY[location]
    nearby = sorted(r for r in REGIONS_WITH_ZONES if GEOGRAPHY[r] == geography)
    elsewhere = (
        f"; or a location in the same geography ({geography}) that has zones: {', '.join(nearby)}"
        if nearby
        else ""
    )
    return (
        f"[] (no zone pinning): {location} has no availability zones (Microsoft's Azure regions "
        f"list, {ZONES_TABLE_DATE}){elsewhere}"
    )
