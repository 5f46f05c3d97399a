"""HTTP- and timer-triggered functions: the durable clients that start orchestrations."""

from triggers import connect, daily_sync, demo, status

BLUEPRINTS = (connect.bp, demo.bp, status.bp, daily_sync.bp)
