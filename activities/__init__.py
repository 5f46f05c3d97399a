"""Activity functions: the only place that touches HTTP, storage and secrets."""

from activities import write_slice_record

BLUEPRINTS = (write_slice_record.bp,)
