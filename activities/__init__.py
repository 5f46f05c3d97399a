"""Activity functions: the only place that touches HTTP, storage and secrets."""

from activities import (
    alert_resource,
    begin_block,
    demo_preview,
    fail_block,
    fetch_pages,
    park_block,
    plan_resource,
    record_progress,
    verify_block,
)

BLUEPRINTS = (
    plan_resource.bp,
    begin_block.bp,
    fetch_pages.bp,
    verify_block.bp,
    park_block.bp,
    fail_block.bp,
    record_progress.bp,
    demo_preview.bp,
    alert_resource.bp,
)
