"""Telemetry layer: Prometheus and Alertmanager, Grafana, the Linkerd dashboard, and the alert rules."""
