"""moto server whose DynamoDB item operations are atomic, as DynamoDB's are.

moto evaluates a ConditionExpression and applies the write in separate steps, on
whichever of its request threads runs them, so two concurrent conditional writes to
one item can both succeed. DynamoDB never lets that happen, and Tenaz's idempotency
claims and breaker transitions rely on it. This launcher runs moto_server with one
lock around each DynamoDB item request (reads, writes, queries and transactions),
which makes every one of them atomic without changing any answer. SQS, S3, SSM and
Secrets Manager are untouched, so long polls still run concurrently.

Usage: python infra/moto/server.py [moto_server arguments]
"""

import functools
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.RLock()
_ATOMIC = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "query",
    "scan",
)


def _atomic(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return locked


for _name in _ATOMIC:
    setattr(DynamoHandler, _name, _atomic(getattr(DynamoHandler, _name)))

if __name__ == "__main__":
    main(sys.argv[1:])
