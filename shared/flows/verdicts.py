"""The block check as the flows call it: stored pages -> (problems, records, reported).

The checks themselves are ``shared.integrity.check_block``'s; this module only turns
the stored pages into its inputs and adds the one check only the flows can make: the
pages stored are exactly ``0 .. pages-1`` (no page lost between fetch and check).
"""

from __future__ import annotations

from shared.flows.models import BlockSpec
from shared.flows.pages import StoredPage


def check(
    spec: BlockSpec, pages: list[StoredPage], expected: int
) -> tuple[list[str], int, int | None]:
    """(problems, distinct records, reported count or None)."""
    problems: list[str] = []
    numbers = [p.number for p in pages]
    if numbers != list(range(expected)):
        problems.append(f"stored pages {numbers[:10]} are not the {expected} pages fetched")
    records = [r for p in pages for r in p.records]
    reports = [p.reported for p in pages if p.reported is not None]
    reported = max(reports) if reports else None
    problems += _integrity(spec, pages, records)
    return problems, len({r.natural_key for r in records}), reported


def _integrity(spec: BlockSpec, pages: list[StoredPage], records: list) -> list[str]:
    try:
        from shared.integrity import PageFacts, check_block
    except ImportError:  # TODO(integration): shared.integrity not landed yet
        return []

    facts = [page_facts(PageFacts, page) for page in pages]
    report = check_block(spec.resource, spec.window, facts, records)
    return [str(p) for p in report.problems]


def page_facts(factory, page: StoredPage):
    return factory(
        number=page.number,
        records=len(page.records),
        reported=page.reported,
        has_next=page.has_next,
    )
