"""The durable shell's glue: activity input models, connector access, progress rows.

Everything here crosses durable boundaries as plain JSON (``model_dump(mode="json")``)
and holds no secrets: credentials are resolved from the ledger inside activities only
(``shared.flows.connections``).
"""
