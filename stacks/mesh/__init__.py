"""Mesh layer: cert-manager, Gateway API CRDs, Linkerd's identity and control plane."""
