"""Example third-party parts for medsegkit, registered through entry points."""
