#!/usr/bin/env python3
"""Drive Debian's python3-consul (a real Consul client) against a Cairn HTTP API.

Run `cargo run -p cairn-http --example memory_agent -- 127.0.0.1:18500`, then
`python3 crates/cairn-http/tests/clients/python_consul.py 18500`. Exits non-zero on the first
mismatch.
"""
import sys
import consul

port = int(sys.argv[1]) if len(sys.argv) > 1 else 18500
c = consul.Consul(host="127.0.0.1", port=port)

# KV
assert c.kv.put("app/config", "hello", flags=7) is True
index, data = c.kv.get("app/config")
assert data["Value"] == b"hello" and data["Flags"] == 7, data
assert index and int(index) > 0
assert c.kv.get("missing")[1] is None
c.kv.put("app/dir/a", "1")
_, keys = c.kv.get("app/", keys=True, separator="/")
assert keys == ["app/config", "app/dir/"], keys
_, entries = c.kv.get("app", recurse=True)
assert [e["Key"] for e in entries] == ["app/config", "app/dir/a"]
assert c.kv.put("cas", "1", cas=0) is True
assert c.kv.put("cas", "2", cas=0) is False
# Blocking read that times out quickly with the same index.
i2, _ = c.kv.get("app/config", index=index, wait="1s")
assert i2 == index, (i2, index)

# Sessions and locks
sid = c.session.create(name="lock", behavior="delete", ttl=15, lock_delay=0)
assert len(sid) == 36
assert c.kv.put("service/leader", "me", acquire=sid) is True
_, leader = c.kv.get("service/leader")
assert leader["Session"] == sid
renewed = c.session.renew(sid)
assert renewed["ID"] == sid, renewed
# python-consul checks the TTL range itself; the server's own text is covered by Rust tests.
assert c.session.destroy(sid) is True
assert c.kv.get("service/leader")[1] is None, "behavior=delete removed the key"

# Agent services and checks
c.agent.service.register("web", service_id="web1", address="127.0.0.1", port=80,
                         tags=["primary"], check=consul.Check.ttl("30s"))
services = c.agent.services()
assert services["web1"]["Service"] == "web", services
# python-consul 0.7 sends TTL updates with GET, which Consul >= 1.0 refuses with 405 as we do;
# newer clients use PUT.
assert c.agent.check.ttl_pass("service:web1", notes="ok") is False
assert c.http.put(consul.base.CB.bool(), "/v1/agent/check/pass/service:web1",
                  params=[("note", "ok")]) is True
checks = c.agent.checks()
assert checks["service:web1"]["Status"] == "passing", checks
assert c.agent.service.deregister("web1") is False  # GET again: 405, as Consul >= 1.0
assert c.http.put(consul.base.CB.bool(), "/v1/agent/service/deregister/web1") is True
assert "web1" not in c.agent.services()

# Catalog and health
assert c.catalog.register("n2", "10.0.0.2", service={"Service": "db", "Port": 5432}) is True
_, svcs = c.catalog.services()
assert "db" in svcs, svcs
_, nodes = c.catalog.service("db")
assert nodes[0]["Node"] == "n2"
_, health = c.health.service("db", passing=True)
assert len(health) == 1 and health[0]["Service"]["Service"] == "db", health
_, nodes = c.catalog.nodes()
assert {n["Node"] for n in nodes} >= {"node1", "n2"}

# Agent self, status, events
me = c.agent.self()
assert me["Config"]["NodeName"] == "node1"
assert c.status.leader() == "127.0.0.1:8300"
assert c.status.peers() == ["127.0.0.1:8300"]
assert c.event.fire("deploy", "v1") is not None
_, events = c.event.list(name="deploy")
assert events[0]["Name"] == "deploy"

print("python-consul: all checks passed")
