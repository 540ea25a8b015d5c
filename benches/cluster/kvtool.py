#!/usr/bin/env python3
"""Small helper for benches/cluster/run.sh: talks to cairn's HTTP API and etcd's v3 JSON
gateway with the same code.

  kvtool.py leader  SYS IP1 IP2 IP3        -> prints the 1-based index of the agreed leader
  kvtool.py put     SYS IP KEY             -> one write; exit 0 on success
  kvtool.py preload SYS IP NKEYS VSIZE     -> writes bench/0 .. bench/NKEYS-1
  kvtool.py failover SYS PID IP...         -> kill -9 PID, then write through every IP given
                                              (the survivors) until one write succeeds; prints
                                              the milliseconds from the kill to that answer
SYS is cairn (port 8500) or etcd (port 2379).
"""
import base64
import http.client
import json
import os
import signal
import sys
import threading
import time

PORT = {"cairn": 8500, "etcd": 2379}


def b64(b):
    return base64.b64encode(b).decode()


def value(size):
    return bytes(97 + (i * 7) % 26 for i in range(1, size + 1))


def request(sys_, ip, method, path, body=None, timeout=5.0, headers=None):
    c = http.client.HTTPConnection(ip, PORT[sys_], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def put(sys_, ip, key, val, timeout=5.0, conn=None):
    """One write; returns (ok, description)."""
    if sys_ == "cairn":
        method, path, body, h = "PUT", "/v1/kv/" + key, val, {}
    else:
        method, path = "POST", "/v3/kv/put"
        body = json.dumps({"key": b64(key.encode()), "value": b64(val)})
        h = {"Content-Type": "application/json"}
    if conn is not None:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        status, data = r.status, r.read()
    else:
        status, data = request(sys_, ip, method, path, body, timeout, h)
    if sys_ == "cairn":
        ok = status == 200 and data.strip() == b"true"
    else:
        ok = status == 200 and b'"header"' in data
    return ok, "HTTP %d %s" % (status, data[:200].decode(errors="replace").strip())


def leader(sys_, ips):
    """1-based index of the member every reachable member names as leader, else None."""
    if sys_ == "cairn":
        seen = set()
        for ip in ips:
            st, data = request(sys_, ip, "GET", "/v1/status/leader", timeout=2)
            if st != 200:
                return None
            seen.add(json.loads(data))
        if len(seen) != 1 or "" in seen:
            return None
        lip = seen.pop().split(":")[0]
        return ips.index(lip) + 1 if lip in ips else None
    ids, leaders = [], set()
    for ip in ips:
        st, data = request(sys_, ip, "POST", "/v3/maintenance/status", b"{}", timeout=2,
                           headers={"Content-Type": "application/json"})
        if st != 200:
            return None
        j = json.loads(data)
        ids.append(j["header"]["member_id"])
        leaders.add(j.get("leader"))
    if len(leaders) != 1:
        return None
    lid = leaders.pop()
    return ids.index(lid) + 1 if lid in ids else None


def main():
    cmd, sys_ = sys.argv[1], sys.argv[2]
    if cmd == "leader":
        try:
            idx = leader(sys_, sys.argv[3:])
        except Exception as e:  # not up yet
            print("error: %s" % e, file=sys.stderr)
            idx = None
        if idx is None:
            sys.exit(1)
        print(idx)
    elif cmd == "put":
        try:
            ok, desc = put(sys_, sys.argv[3], sys.argv[4], b"x", timeout=5)
        except Exception as e:
            ok, desc = False, repr(e)
        if not ok:
            print(desc, file=sys.stderr)
            sys.exit(1)
    elif cmd == "preload":
        ip, n, size = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        v = value(size)
        c = http.client.HTTPConnection(ip, PORT[sys_], timeout=10)
        for i in range(n):
            ok, desc = put(sys_, ip, "bench/%d" % i, v, conn=c)
            if not ok:
                print("preload bench/%d failed: %s" % (i, desc), file=sys.stderr)
                sys.exit(1)
        c.close()
    elif cmd == "failover":
        # A new write attempt starts every 20 ms, alternating between the survivors, each on its
        # own connection and thread (at most 200 in flight, 10 s timeout each), so a request
        # stuck on the dead leader does not hold the measurement back.
        pid, ips = int(sys.argv[3]), sys.argv[4:]
        done = threading.Event()
        lock = threading.Lock()
        result = {}
        errors = {}
        v = value(256)
        inflight = threading.Semaphore(200)

        def attempt(ip, n):
            try:
                ok, desc = put(sys_, ip, "failover/%s/%d" % (ip, n), v, timeout=10)
            except Exception as e:
                ok, desc = False, repr(e)
            now = time.monotonic()
            with lock:
                if ok:
                    if "t" not in result:
                        result["t"], result["via"] = now, ip
                    done.set()
                elif not done.is_set():
                    errors[desc[:100]] = errors.get(desc[:100], 0) + 1
            inflight.release()

        t0 = time.monotonic()
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        n = 0
        while not done.is_set() and time.monotonic() - t0 < 60:
            if inflight.acquire(timeout=0.02):
                threading.Thread(target=attempt, args=(ips[n % len(ips)], n), daemon=True).start()
                n += 1
            done.wait(0.02)
        if "t" not in result:
            print("no successful write within 60 s; errors seen: %s" % errors, file=sys.stderr)
            sys.exit(1)
        ms = (result["t"] - t0) * 1000
        # For lining up with the servers' logs (election start, leader elected).
        print("killed at %s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(killed_at)),
                                      int(killed_at * 1000) % 1000), file=sys.stderr)
        errs = "; ".join("%s x%d" % (k, c) for k, c in
                         sorted(errors.items(), key=lambda x: -x[1])[:3])
        print("%.0f %s %s" % (ms, result["via"], "_".join(errs.split()) or "-"))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
