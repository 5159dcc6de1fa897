"""Platform layers, one ComponentResource per module."""
