"""The subset of Shopify's Admin GraphQL schema the sandbox serves, with graphql-core.

Names and types follow the Admin API reference (Order, LineItem, Refund, MoneyBag,
MoneyV2, ShopifyPaymentsAccount / Payout / BalanceTransaction, InventoryItem /
InventoryLevel / Location, BulkOperation and its mutations). Only fields the connectors
and tests use are present; a query for any other field fails validation as it would on
a version without it. ``Decimal``, ``DateTime``, ``UnsignedInt64``, ``BigInt`` and
``URL`` are strings on the wire, as Shopify sends them. Connections take ``first`` /
``last`` (at most 250), ``after`` / ``before``, ``reverse``, and where Shopify has them
``sortKey`` and ``query`` (search syntax, see ``search.py``).
"""

from __future__ import annotations

from functools import cache, lru_cache

from graphql import DocumentNode, GraphQLError, GraphQLSchema, build_schema, parse, validate

_PAGING = "first: Int, after: String, last: Int, before: String, reverse: Boolean = false"


def _connection(name: str) -> str:
    return f"""
type {name}Edge {{ cursor: String! node: {name}! }}
type {name}Connection {{ edges: [{name}Edge!]! nodes: [{name}!]! pageInfo: PageInfo! }}
"""


SDL = (
    """
scalar DateTime
scalar Decimal
scalar UnsignedInt64
scalar BigInt
scalar URL

interface Node { id: ID! }

enum CurrencyCode { USD CAD EUR GBP }
enum OrderSortKeys { ID CREATED_AT UPDATED_AT PROCESSED_AT }
enum OrderDisplayFinancialStatus { PENDING AUTHORIZED PARTIALLY_PAID PAID PARTIALLY_REFUNDED
  REFUNDED VOIDED EXPIRED }
enum OrderDisplayFulfillmentStatus { UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED
  PENDING_FULFILLMENT OPEN IN_PROGRESS ON_HOLD SCHEDULED REQUEST_DECLINED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY STAFF OTHER }
enum RefundLineItemRestockType { RETURN CANCEL LEGACY_RESTOCK NO_RESTOCK }
enum ShopifyPaymentsPayoutStatus { SCHEDULED IN_TRANSIT PAID FAILED CANCELED }
enum ShopifyPaymentsPayoutTransactionType { DEPOSIT WITHDRAWAL }
enum ShopifyPaymentsTransactionType { CHARGE REFUND DISPUTE RESERVE ADJUSTMENT CREDIT DEBIT
  PAYOUT PAYOUT_FAILURE PAYOUT_CANCELLATION }
enum ShopifyPaymentsSourceType { CHARGE REFUND DISPUTE ADJUSTMENT PAYOUT TRANSFER }
enum ShopifyPaymentsBalanceTransactionPayoutStatus { PENDING SCHEDULED IN_TRANSIT PAID FAILED
  CANCELED ACTION_REQUIRED }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationType { QUERY MUTATION }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS LIMIT_REACHED }
enum CountPrecision { EXACT AT_LEAST }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Count { count: Int! precision: CountPrecision! }

type Shop implements Node {
  id: ID!
  name: String!
  myshopifyDomain: String!
  currencyCode: CurrencyCode!
  ianaTimezone: String!
}

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  closedAt: DateTime
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closed: Boolean!
  test: Boolean!
  note: String
  currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
  totalPriceSet: MoneyBag!
  totalRefundedSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  lineItems("""
    + _PAGING
    + """): LineItemConnection!
  refunds(first: Int): [Refund!]!
}

type TaxLine { title: String! rate: Float ratePercentage: Float priceSet: MoneyBag! }

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  title: String!
  price: Decimal!
}

type LineItem implements Node {
  id: ID!
  name: String!
  title: String!
  variantTitle: String
  sku: String
  vendor: String
  quantity: Int!
  currentQuantity: Int!
  requiresShipping: Boolean!
  originalUnitPriceSet: MoneyBag!
  originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag!
  totalDiscountSet: MoneyBag!
  taxLines(first: Int): [TaxLine!]!
  variant: ProductVariant
}

type Refund implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  createdAt: DateTime
  updatedAt: DateTime!
  note: String
  totalRefundedSet: MoneyBag!
  refundLineItems("""
    + _PAGING
    + """): RefundLineItemConnection!
}

type RefundLineItem {
  quantity: Int!
  restockType: RefundLineItemRestockType!
  restocked: Boolean!
  lineItem: LineItem!
  priceSet: MoneyBag!
  subtotalSet: MoneyBag!
  totalTaxSet: MoneyBag!
}

type ShopifyPaymentsPayoutSummary {
  chargesGross: MoneyV2!
  chargesFee: MoneyV2!
  refundsFeeGross: MoneyV2!
  refundsFee: MoneyV2!
  adjustmentsGross: MoneyV2!
  adjustmentsFee: MoneyV2!
  reservedFundsGross: MoneyV2!
  reservedFundsFee: MoneyV2!
  retriedPayoutsGross: MoneyV2!
  retriedPayoutsFee: MoneyV2!
}

type ShopifyPaymentsPayout implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  issuedAt: DateTime!
  status: ShopifyPaymentsPayoutStatus!
  transactionType: ShopifyPaymentsPayoutTransactionType!
  net: MoneyV2!
  summary: ShopifyPaymentsPayoutSummary!
}

type ShopifyPaymentsAssociatedOrder { id: ID! name: String! }
type ShopifyPaymentsBalanceTransactionAssociatedPayout {
  id: ID
  status: ShopifyPaymentsBalanceTransactionPayoutStatus
}

type ShopifyPaymentsBalanceTransaction implements Node {
  id: ID!
  type: ShopifyPaymentsTransactionType!
  test: Boolean!
  transactionDate: DateTime!
  amount: MoneyV2!
  fee: MoneyV2!
  net: MoneyV2!
  sourceType: ShopifyPaymentsSourceType
  sourceId: BigInt
  sourceOrderTransactionId: BigInt
  associatedOrder: ShopifyPaymentsAssociatedOrder
  associatedPayout: ShopifyPaymentsBalanceTransactionAssociatedPayout!
}

type ShopifyPaymentsAccount implements Node {
  id: ID!
  activated: Boolean!
  country: String!
  defaultCurrency: CurrencyCode!
  balance: [MoneyV2!]!
  payouts("""
    + _PAGING
    + """, query: String): ShopifyPaymentsPayoutConnection!
  balanceTransactions("""
    + _PAGING
    + """, query: String): ShopifyPaymentsBalanceTransactionConnection!
}

type InventoryQuantity { name: String! quantity: Int! updatedAt: DateTime }

type Location implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
  inventoryLevels("""
    + _PAGING
    + """, query: String): InventoryLevelConnection!
}

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  inventoryLevels("""
    + _PAGING
    + """, query: String): InventoryLevelConnection!
}

type InventoryLevel implements Node {
  id: ID!
  createdAt: DateTime!
  updatedAt: DateTime!
  quantities(names: [String!]!): [InventoryQuantity!]!
  location: Location!
  item: InventoryItem!
}

type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
  type: BulkOperationType!
}

type BulkOperationUserError {
  code: BulkOperationUserErrorCode
  field: [String!]
  message: String!
}
type BulkOperationRunQueryPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}
type BulkOperationCancelPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}

type Query {
  shop: Shop!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  orders("""
    + _PAGING
    + """, sortKey: OrderSortKeys = ID, query: String): OrderConnection!
  ordersCount(query: String, limit: Int = 10000): Count
  order(id: ID!): Order
  shopifyPaymentsAccount: ShopifyPaymentsAccount
  inventoryItems("""
    + _PAGING
    + """, query: String): InventoryItemConnection!
  inventoryItem(id: ID!): InventoryItem
  locations("""
    + _PAGING
    + """, query: String): LocationConnection!
  location(id: ID): Location
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  bulkOperation(id: ID!): BulkOperation
}

type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean = false): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}
"""
    + "".join(
        _connection(n)
        for n in (
            "Order",
            "LineItem",
            "RefundLineItem",
            "ShopifyPaymentsPayout",
            "ShopifyPaymentsBalanceTransaction",
            "InventoryItem",
            "InventoryLevel",
            "Location",
        )
    )
)


@cache
def schema() -> GraphQLSchema:
    return build_schema(SDL)


@lru_cache(maxsize=256)
def document(query: str) -> DocumentNode | tuple[GraphQLError, ...]:
    """The parsed and validated query, or its errors (cached: crawlers repeat one query)."""
    try:
        doc = parse(query)
    except GraphQLError as exc:
        return (exc,)
    errors = validate(schema(), doc)
    return tuple(errors) if errors else doc
