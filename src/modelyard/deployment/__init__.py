"""Deployment: the promotion gate that moves environment aliases, and rollbacks."""
