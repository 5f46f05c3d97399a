"""The subset of Quiltt's Profile GraphQL schema the sandbox serves (Q-TX, Q-OV).

Names follow quiltt.dev (api/transactions, api/accounts, api/balances, graphql/pagination):
``accounts`` is a plain list; ``transactions`` (on the query root and on ``Account``) is a
Relay connection with ``count``, ``edges{cursor node}``, ``nodes`` and ``pageInfo``, at most
100 records a page (a larger ``first`` is capped, as Quiltt documents the cap, not an
error). ``TransactionFilter`` has the documented ``status``, ``entryType``, ``amount_gte``,
``amount_lte`` and ``accountIds`` (obs); the date bounds ``date_gt``/``date_gte``/
``date_lt``/``date_lte`` follow the same naming (the doc's "date_gt…"), dates inclusive as
named. ``sort`` defaults to ``DATE_DESC`` (inf). Amounts are unsigned JSON numbers with
``entryType``; ``date`` is ``YYYY-MM-DD``.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.language import StringValueNode, ValueNode

from sandbox.quiltt.view import txn_day

SDL = """
scalar Date
scalar DateTime
scalar JSON

enum AccountKind { DEPOSITORY CREDIT INVESTMENT LOAN OTHER }
enum AccountType { CHECKING SAVINGS CREDIT OTHER }
enum ConnectionProvider { MX PLAID FINICITY AKOYA MOCK }
enum ConnectionStatus { INITIALIZING SYNCING SYNCED ERROR_REPAIRABLE ERROR_SERVICE
  ERROR_PROVIDER ERROR_INSTITUTION DISCONNECTED UPGRADING }
enum TransactionEntryType { CREDIT DEBIT }
enum TransactionStatus { PENDING POSTED }
enum TransactionSort { DATE_ASC DATE_DESC }

type Institution { name: String! }

type Connection {
  id: ID!
  provider: ConnectionProvider!
  status: ConnectionStatus!
}

type Balance {
  id: ID!
  at: DateTime!
  source: String!
  current: Float
  available: Float
  limit: Float
}

type Account {
  id: ID!
  name: String!
  type: AccountType
  kind: AccountKind!
  mask: String
  currencyCode: String!
  verified: Boolean!
  metadata: JSON
  institution: Institution
  connection: Connection!
  balance: Balance
  transactions(first: Int, after: String, sort: TransactionSort = DATE_DESC,
               filter: TransactionFilter): TransactionConnection!
}

type Transaction {
  id: ID!
  date: Date!
  description: String!
  amount: Float!
  entryType: TransactionEntryType!
  status: TransactionStatus!
  currencyCode: String!
  metadata: JSON
  account: Account!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type TransactionEdge { cursor: String! node: Transaction! }

type TransactionConnection {
  count: Int!
  edges: [TransactionEdge!]!
  nodes: [Transaction!]!
  pageInfo: PageInfo!
}

input TransactionFilter {
  accountIds: [ID!]
  status: [TransactionStatus!]
  entryType: TransactionEntryType
  amount_gte: Float
  amount_lte: Float
  date_gt: Date
  date_gte: Date
  date_lt: Date
  date_lte: Date
}

input AccountFilter {
  kind: [AccountKind!]
  verified: Boolean
  connection_status: [ConnectionStatus!]
}

type Profile { id: ID! }

type Query {
  profile: Profile
  accounts(filter: AccountFilter): [Account!]!
  account(id: ID!): Account
  transaction(id: ID!): Transaction
  transactions(first: Int, after: String, sort: TransactionSort = DATE_DESC,
               filter: TransactionFilter): TransactionConnection!
}
"""


def _parse_date(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"Date cannot represent a non string value: {value!r}")
    try:
        txn_day(value)
    except ValueError as exc:
        raise GraphQLError(f"Date must be formatted as YYYY-MM-DD: {value!r}") from exc
    return value


def _parse_date_literal(node: ValueNode, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("Date must be a string formatted as YYYY-MM-DD", node)
    return _parse_date(node.value)


@cache
def schema() -> GraphQLSchema:
    built = build_schema(SDL)
    date = built.type_map["Date"]
    # graphql-core 3.3 reads coerce_input_*; 3.2 reads parse_*: set both
    for name, parser in (
        ("parse_value", _parse_date),
        ("coerce_input_value", _parse_date),
        ("parse_literal", _parse_date_literal),
        ("coerce_input_literal", _parse_date_literal),
    ):
        setattr(date, name, parser)
    return built


@lru_cache(maxsize=256)
def _document(query: str) -> DocumentNode | list[GraphQLError]:
    """The parsed and validated query, or its errors (cached: crawlers repeat one query)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return [exc]
    errors = validate(schema(), document)
    return errors if errors else document


def run(
    query: str, root: Any, variables: dict[str, Any] | None, operation: str | None
) -> dict[str, Any]:
    """Execute ``query`` against the schema; the response body (``data`` and/or ``errors``)."""
    document = _document(query)
    if isinstance(document, list):
        return ExecutionResult(None, document).formatted
    result = execute(
        schema(), document, root_value=root, variable_values=variables, operation_name=operation
    )
    assert isinstance(result, ExecutionResult)  # every resolver is synchronous
    return result.formatted
