#!/usr/bin/env python3
"""Drive Debian's patroni Consul DCS (patroni.dcs.consul) against a Cairn HTTP API: session,
member key, initialize, leader race, cluster load, blocking watch, service registration and
leader release, with patroni's own HTTP client.

Run `cargo run -p cairn-http --example memory_agent -- 127.0.0.1:18500`, then
`/usr/bin/python3 crates/cairn-http/tests/clients/patroni_dcs.py 18500`.
"""
import sys
import time

from patroni.dcs.consul import Consul

port = int(sys.argv[1]) if len(sys.argv) > 1 else 18500
config = {
    "scope": "batman", "name": "pg1", "namespace": "/service/", "retry_timeout": 10, "ttl": 30,
    "loop_wait": 10, "host": "127.0.0.1:%d" % port, "register_service": True,
}
dcs = Consul(config)
assert dcs._session, "session created"
assert dcs.touch_member({"conn_url": "postgres://127.0.0.1:5432/postgres",
                         "api_url": "http://127.0.0.1:8008/patroni", "state": "running",
                         "role": "master"}), "member key written"
assert dcs.initialize(create_new=True, sysid="6969"), "initialize key written"
assert not dcs.initialize(create_new=True, sysid="7070"), "initialize is a cas=0 write"
assert dcs.attempt_to_acquire_leader(), "leader lock acquired"

cluster = dcs.get_cluster()
assert cluster.initialize == "6969", cluster.initialize
assert cluster.leader and cluster.leader.name == "pg1", cluster.leader
assert [m.name for m in cluster.members] == ["pg1"], cluster.members

# The leader key is held; a watch on it with nothing changing waits out its timeout.
dcs.watch(cluster.leader.index, 2)  # the first watch after taking the lock returns at once
start = time.time()
changed = dcs.watch(cluster.leader.index, 2)
took = time.time() - start
assert not changed and 1.5 < took < 5, (changed, took)

assert dcs.update_leader(last_lsn=100), "session renewed, leader kept"
svc = dcs._client.agent.services()["batman/pg1"]
assert svc["Service"] == "batman" and "primary" in svc["Tags"], svc

assert dcs.delete_leader(), "leader released"
assert dcs.get_cluster().leader is None
print("patroni consul DCS: all checks passed")
