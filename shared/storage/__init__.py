"""Storage adapters: raw pages in Blob storage, records and the ledger in Table storage.

- ``raw_pages.RawPageStore`` — the audit trail: one gzip JSON blob per API page.
- ``records.RecordStore`` — normalized records, idempotent batched upserts.
- ``ledger.Ledger`` — connections, blocks (forward-only, see ``blocks``), watermarks,
  alerts.
- ``clients.StorageClients`` — the async service clients, built once per account.

Pure parts (``keys``, ``codec``, ``blocks``) hold the rules — key escaping, property
encoding, block transitions — and are tested without storage; the stores are tested
against Azurite.
"""
