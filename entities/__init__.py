"""Durable entities: state holders whose math lives in ``shared``."""

from entities import slice_permits

BLUEPRINTS = (slice_permits.bp,)
