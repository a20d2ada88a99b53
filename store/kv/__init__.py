"""The JetStream KV backend (SPEC sections 2, 4 and 6) on nats-py.

  connection  connecting, JetStream API requests bounded by the operation timeout
  direct      subscriptions that hand each message to a plain function
  scan        reading a bucket with an ordered consumer, checked against the leader
  quorum      the liveness rule an authorization and the health report share
  writer      the pipelined writer of a migration
  store       KvStore: the Store on five buckets
"""

from ..layout import BUCKETS
from .connection import connect
from .direct import subscribe_direct
from .quorum import FRESH_S, STALE_S, quorum_problem
from .store import KvStore
from .writer import PipelinedWriter

__all__ = ["BUCKETS", "FRESH_S", "STALE_S", "KvStore", "PipelinedWriter", "connect", "quorum_problem",
           "subscribe_direct"]
