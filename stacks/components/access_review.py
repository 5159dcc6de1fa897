"""Building block: what the platform must be allowed to do in a cluster, asked of the API server.

One list and one question, shared by the access wait that runs in `pulumi up` (access_wait.py)
and by `canaryctl doctor`: a SelfSubjectAccessReview per access (authorization.k8s.io/v1), which
the API server answers for whoever asks, with Azure RBAC or Kubernetes RBAC alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REVIEWS_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class Access:
    verb: str
    group: str
    resource: str

    def review(self) -> dict[str, Any]:
        """The SelfSubjectAccessReview that asks for it."""
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": self.verb,
                    "group": self.group,
                    "resource": self.resource,
                }
            },
        }

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {self.resource}{group}"


# What the platform's charts create first in a new cluster: namespaces, CRDs, cluster-wide RBAC,
# admission webhooks and (linkerd-viz's tap) an APIService. Azure RBAC grants them together with
# the cluster admin role, so asking for each proves the role has reached the cluster.
REQUIRED_ACCESS: tuple[Access, ...] = (
    Access("create", "", "namespaces"),
    Access("create", "apiextensions.k8s.io", "customresourcedefinitions"),
    Access("create", "rbac.authorization.k8s.io", "clusterroles"),
    Access("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
    Access("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    Access("create", "admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    Access("create", "apiregistration.k8s.io", "apiservices"),
)
EVERYTHING = Access("*", "*", "*")
"""cluster-admin: what doctor asks first."""


def allowed(answer: Any) -> bool:
    """Whether a review's answer (the JSON object, or the client's model) allows it."""
    status = answer.get("status") if isinstance(answer, dict) else getattr(answer, "status", None)
    if isinstance(status, dict):
        return bool(status.get("allowed"))
    return bool(getattr(status, "allowed", False))
