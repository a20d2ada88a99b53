"""The membership-admin terminal UI and command line."""
