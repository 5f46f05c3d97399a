"""Tributary's own shared code: settings, storage adapters, pure domain logic, connectors.

Not to be confused with the ``../shared`` folder of design notes beside the repository.
"""
