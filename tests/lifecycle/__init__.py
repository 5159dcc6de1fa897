"""Models of the engines a stack lives under: Pulumi, Kubernetes, Flagger, Azure (tests only)."""
