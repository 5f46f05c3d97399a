"""Orchestrator functions: they coordinate; pure functions in ``shared`` decide."""

from orchestrators import slice_block, slice_client

BLUEPRINTS = (slice_client.bp, slice_block.bp)
