"""Harness of the provisioning integration test (see ../README.md)."""
