"""Reports API 2021-06-30: report jobs on the world clock and their flat-file documents.

Lifecycle of a report (all on the world clock, per selling partner):
    createdTime --queue 2-10 s, FIFO behind the seller's earlier reports--> processingStart
    --20 s + 10 ms per row--> processingEnd, then DONE (or CANCELLED when the window has no
    rows, as Amazon cancels empty reports; or FATAL when the ``server_error`` fault hits the
    report itself). Before processingStart the status is IN_QUEUE, then IN_PROGRESS.

Contents are the data as of processingEnd. Documents are tab-separated UTF-8 text with a
header line, GZIP-compressed when larger than 16 KiB. ``getReportDocument`` hands out a
URL on the sandbox itself (``<root>/documents/<id>?X-Amz-Date=…&X-Amz-Expires=300&
X-Amz-Signature=…``) that works for 5 minutes and then answers S3's 403 XML.

Report types served (dataStartTime <= record time <= dataEndTime):
    GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL   one row per order item, by purchase
    GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL  same rows, by last update
    GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE             one row per return, by request date
The order flat file has no order-item id: (amazon-order-id, sku) identifies an item row.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.amazon.errors import s3_error
from sandbox.amazon.formats import BadDate, iso, iso_local, parse_iso, quantize
from sandbox.amazon.view import RETURN_COLUMNS, priced, return_row

if TYPE_CHECKING:
    from sandbox.amazon.data import History, Order, Version

ORDERS_BY_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
RETURNS_BY_DATE = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REPORT_TYPES = (ORDERS_BY_DATE, ORDERS_BY_UPDATE, RETURNS_BY_DATE)
ORDER_COLUMNS = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
)
URL_SECONDS = 300
GZIP_ABOVE = 16 * 1024


@dataclass
class ReportJob:
    report_id: str
    account: str
    client_id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: float
    data_end: float
    created: float
    started: float
    ended: float
    outcome: str  # DONE | CANCELLED | FATAL
    document_id: str | None

    def status(self, now: float) -> str:
        if now < self.started:
            return "IN_QUEUE"
        return "IN_PROGRESS" if now < self.ended else self.outcome

    def payload(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {
            "reportType": self.report_type,
            "dataStartTime": iso(self.data_start),
            "dataEndTime": iso(self.data_end),
            "marketplaceIds": self.marketplace_ids,
            "reportId": self.report_id,
            "createdTime": iso(self.created),
            "processingStatus": status,
        }
        if status != "IN_QUEUE":
            out["processingStartTime"] = iso(self.started)
        if now >= self.ended:
            out["processingEndTime"] = iso(self.ended)
            if self.outcome == "DONE":
                out["reportDocumentId"] = self.document_id
        return out


def processing_seconds(rows: int) -> float:
    return 20.0 + 0.01 * rows


def _amount(value: Decimal, currency: str, show: bool) -> str:
    return str(quantize(value, currency)) if show else ""


def _order_rows(order: Order, version: Version) -> Iterable[dict[str, str]]:
    currency, offset = order.marketplace.currency, order.marketplace.utc_offset_hours
    show = priced(version)
    for index, item in enumerate(order.items):
        if version.status == "Canceled":
            item_status = "Canceled"
        else:
            item_status = "Shipped" if version.shipped[index] == item.quantity else "Unshipped"
        city, region, postal = order.ship_to
        yield {
            "amazon-order-id": order.order_id,
            "merchant-order-id": "",
            "purchase-date": iso_local(order.purchased, offset),
            "last-updated-date": iso_local(version.at, offset),
            "order-status": version.status,
            "fulfillment-channel": "Amazon" if order.channel == "AFN" else "Merchant",
            "sales-channel": order.marketplace.sales_channel,
            "order-channel": "",
            "ship-service-level": "Standard",
            "product-name": item.sku.title,
            "sku": item.sku.sku,
            "asin": item.sku.asin,
            "item-status": item_status,
            "quantity": str(item.quantity),
            "currency": currency if show else "",
            "item-price": _amount(item.item_price, currency, show),
            "item-tax": _amount(item.tax, currency, show),
            "shipping-price": _amount(item.shipping, currency, show),
            "shipping-tax": _amount(Decimal(0), currency, show),
            "gift-wrap-price": "",
            "gift-wrap-tax": "",
            "item-promotion-discount": _amount(
                -item.promotion, currency, show and bool(item.promotion)
            ),
            "ship-promotion-discount": "",
            "ship-city": city if version.paid else "",
            "ship-state": region if version.paid else "",
            "ship-postal-code": postal if version.paid else "",
            "ship-country": order.marketplace.country,
            "promotion-ids": item.promotion_id or "",
            "is-business-order": str(order.is_business).lower(),
            "purchase-order-number": "",
            "price-designation": "",
        }


def report_rows(job: ReportJob, history: History, t: float) -> list[dict[str, str]]:
    """The rows of ``job`` over the data visible at ``t``."""
    lo, hi = job.data_start, job.data_end
    markets = set(job.marketplace_ids)
    if job.report_type == RETURNS_BY_DATE:
        return [
            return_row(r, t)
            for r in history.returns
            if lo <= r.requested <= hi
            and r.requested <= t
            and r.order.marketplace.marketplace_id in markets
        ]
    rows: list[dict[str, str]] = []
    for order in history.orders:
        if order.purchased > t or order.marketplace.marketplace_id not in markets:
            continue
        version = order.version_at(t)
        assert version is not None
        stamp = order.purchased if job.report_type == ORDERS_BY_DATE else version.at
        if lo <= stamp <= hi:
            rows.extend(_order_rows(order, version))
    return rows


def render(report_type: str, rows: list[dict[str, str]]) -> bytes:
    columns = RETURN_COLUMNS if report_type == RETURNS_BY_DATE else ORDER_COLUMNS
    lines = ["\t".join(columns)] + ["\t".join(row[c] for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Document:
    document_id: str
    account: str
    content: bytes
    compressed: bool

    @classmethod
    def of(cls, document_id: str, account: str, text: bytes) -> Document:
        if len(text) > GZIP_ABOVE:
            return cls(document_id, account, gzip.compress(text, mtime=0), True)
        return cls(document_id, account, text, False)


def url_signature(secret: str, document_id: str, issued: int) -> str:
    return hashlib.blake2b(f"{secret}/{document_id}/{issued}".encode(), digest_size=16).hexdigest()


class ReportStore:
    """Every report and document of the world, with each seller's processing queue."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.jobs: dict[str, ReportJob] = {}
        self.documents: dict[str, Document] = {}
        self._queue_free: dict[str, float] = {}

    def add(self, job: ReportJob, queue_wait: float, rows: int) -> ReportJob:
        """Schedule ``job`` behind the seller's earlier reports (sets started/ended)."""
        job.started = max(job.created + queue_wait, self._queue_free.get(job.account, 0.0))
        job.ended = job.started + processing_seconds(rows)
        self._queue_free[job.account] = job.ended
        self.jobs[job.report_id] = job
        return job

    def document(self, job: ReportJob, history: History) -> Document:
        """The job's document, rendered on first use from the data as of processingEnd."""
        assert job.document_id is not None
        if job.document_id not in self.documents:
            text = render(job.report_type, report_rows(job, history, job.ended))
            self.documents[job.document_id] = Document.of(job.document_id, job.account, text)
        return self.documents[job.document_id]

    def signed_query(self, document_id: str, now: float) -> str:
        issued = int(now)
        stamp = iso(issued).replace("-", "").replace(":", "")
        return (
            f"X-Amz-Date={stamp}&X-Amz-Expires={URL_SECONDS}"
            f"&X-Amz-Signature={url_signature(self.secret, document_id, issued)}"
        )

    def download(
        self, document_id: str, query: dict[str, str], now: float
    ) -> tuple[int, bytes | str, str]:
        """(status, body, media type) for a presigned document URL."""
        xml = "application/xml"
        document = self.documents.get(document_id)
        if document is None:
            return 404, s3_error("NoSuchKey", "The specified key does not exist."), xml
        try:
            issued = int(parse_iso(query.get("X-Amz-Date", "")))
        except BadDate:
            return (
                403,
                s3_error(
                    "AccessDenied", "Query-string authentication requires the X-Amz-Date parameter"
                ),
                xml,
            )
        if query.get("X-Amz-Signature") != url_signature(self.secret, document_id, issued):
            return (
                403,
                s3_error(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated "
                    "does not match the signature you provided.",
                ),
                xml,
            )
        if now > issued + URL_SECONDS:
            return 403, s3_error("AccessDenied", "Request has expired"), xml
        media = "application/octet-stream" if document.compressed else "text/plain; charset=UTF-8"
        return 200, document.content, media
