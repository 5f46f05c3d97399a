"""Durable entities: state holders whose math lives in ``shared``."""

from entities import ambassador

BLUEPRINTS = (ambassador.bp,)
