"""What development, demos, tests and benchmarks need, apart from the runtime storage.

  demo        a small, realistic demo state written through the Store interface
  seed        deterministic synthetic data written straight into a new database
  local_nats  local nats-server processes: one node or a 3-node cluster

None of this is storage: the runtime modules of store/ never import it, so a production
install reads and writes its backends without demo data or server processes in reach.
"""
