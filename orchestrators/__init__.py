"""Orchestrator functions: they coordinate; pure functions in ``shared`` decide."""

from orchestrators import load_block, sync_client, sync_resource

BLUEPRINTS = (sync_client.bp, sync_resource.bp, load_block.bp)
