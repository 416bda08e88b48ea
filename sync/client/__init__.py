"""The sync client that runs on the box: push, pull, heartbeat, the worker."""
