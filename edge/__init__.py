"""Một Cửa Edge: the commune one-stop office box — domain, storage, services, config, CLI."""

__version__ = "0.1.0"
