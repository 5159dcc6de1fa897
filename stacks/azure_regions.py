"""Azure public-cloud regions: the one list `location` is checked against, with a "did you mean".

The programmatic names of Microsoft's "List of Azure regions" (reliability-docs
articles/reliability/regions-list.md, table "All", updated 2025-09-23). Some of them are
restricted to customers with a need in the country (australiacentral2, brazilsoutheast,
francesouth, germanynorth, norwaywest, southafricawest, switzerlandwest, uaecentral); they are
still valid names. `az account list-locations -o table` shows what a subscription can use.
"""

from __future__ import annotations

import difflib
import re

PUBLIC_REGIONS = frozenset(
    [
        "australiacentral",
        "australiacentral2",
        "australiaeast",
        "australiasoutheast",
        "austriaeast",
        "belgiumcentral",
        "brazilsouth",
        "brazilsoutheast",
        "canadacentral",
        "canadaeast",
        "centralindia",
        "centralus",
        "chilecentral",
        "denmarkeast",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "francesouth",
        "germanynorth",
        "germanywestcentral",
        "indiasouthcentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "japaneast",
        "japanwest",
        "koreacentral",
        "koreasouth",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "norwaywest",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southafricawest",
        "southcentralus",
        "southindia",
        "southeastasia",
        "spaincentral",
        "swedencentral",
        "switzerlandnorth",
        "switzerlandwest",
        "uaecentral",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westindia",
        "westus",
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
