"""HTTP- and timer-triggered functions: the durable clients that start orchestrations."""

from triggers import start_slice

BLUEPRINTS = (start_slice.bp,)
