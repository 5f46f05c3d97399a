"""The block check as the flows call it: stored pages -> (problems, records, reported).

The checks themselves are ``shared.integrity.check_block``'s; this module only turns
the stored pages into its inputs and adds the one check only the flows can make: the
pages stored are exactly ``0 .. pages-1`` (no page lost between fetch and check).
"""

from __future__ import annotations

from shared.flows.chains import WINDOW_SLACK
from shared.flows.models import BlockSpec
from shared.flows.pages import StoredPage
from shared.platforms.base import Window


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
    from shared.integrity import PageFacts, check_block

    facts = [
        PageFacts(
            page_number=page.number,
            record_count=len(page.records),
            reported_count=page.reported,
            has_next=page.has_next,
            cursor=page.cursor,
        )
        for page in pages
    ]
    window = judged_window(spec)
    report = check_block(spec.resource, window, facts, records, by_update=spec.tier == "daily")
    return [str(p) for p in report.problems]


def judged_window(spec: BlockSpec) -> Window:
    """The window the records are judged by: the block's, widened at its end where the
    block reaches its records through parents that the window selects (Amazon lists a
    settlement group's events, posted until the group closes)."""
    slack = WINDOW_SLACK.get((spec.platform, spec.resource))
    if slack is None:
        return spec.window
    return Window(start=spec.window.start, end=spec.window.end + slack)
