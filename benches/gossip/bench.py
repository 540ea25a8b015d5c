#!/usr/bin/env python3
"""cairn-gossip vs serf on loopback, in one run.

For each implementation: start N agents (default 32) on 127.0.0.1 with the same timing profile,
join them through the first, then measure
  * steady-state bytes sent per agent per second (tcpdump on lo, gossip ports only, IP bytes),
  * RSS per agent (VmRSS),
  * time until a new agent is seen alive by all N (BENCH_ROUNDS joins, default 3),
  * time until a kill -9'd agent is marked failed by the first / all other original agents
    (BENCH_ROUNDS kills, one after another).
cairn agents report membership events on stdout as they happen; serf agents are polled over
their RPC port every 50 ms by serfwatch (so serf's times may read up to 50 ms late).

    python3 benches/gossip/bench.py [N] [profile] [steady_seconds]

Needs: serf, tcpdump, go (Debian golang-go + golang-github-hashicorp-serf-dev), cargo.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 32
PROFILE = sys.argv[2] if len(sys.argv) > 2 else "lan"
STEADY = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
TIMEOUT = 120.0
# Joins and kills per implementation; each metric is reported as the mean with every sample.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def free_port_block(count):
    """A run of `count + 1` consecutive ports free for TCP and UDP."""
    base = 20000 + (os.getpid() % 200) * 50
    while base < 60000:
        ok = True
        for p in range(base, base + count + 1):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                finally:
                    s.close()
            if not ok:
                break
        if ok:
            return base
        base += count + 7
    raise SystemExit("no free port block")


class Log:
    """Collects "<unix µs> <observer> <member> <status>" records from a stream."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def add(self, t, observer, member, status):
        with self.lock:
            self.records.append((t, observer, member, status))

    def first_times(self, member, statuses, observers, after):
        """Per observer, the first time `member` had one of `statuses` after `after`."""
        out = {}
        with self.lock:
            for t, o, m, s in self.records:
                if m == member and s in statuses and t >= after and o in observers and o not in out:
                    out[o] = t
        return out


def pump_agent_stdout(proc, idx, log):
    for line in proc.stdout:
        parts = line.split()
        if len(parts) == 3:
            status = {"join": "alive", "failed": "failed", "leave": "left"}.get(parts[1])
            if status:
                log.add(int(parts[0]), idx, parts[2], status)


def pump_serfwatch(proc, log):
    for line in proc.stdout:
        parts = line.split()
        if len(parts) == 4:
            log.add(int(parts[0]), int(parts[1]), parts[2], parts[3])


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pcap_bytes_by_port(path, ports):
    """Sums IP total lengths: (UDP sent from `ports`, TCP sent from `ports`, all TCP, connections).

    The capture filter keeps only traffic to or from the gossip ports, so "all TCP" is every
    segment of every push/pull connection in both directions: the replies sent from the gossip
    port and the requests sent by the initiating agent from an ephemeral port.
    """
    total = {17: 0, 6: 0}
    tcp_all = 0
    conns = 0
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return 0, 0, 0, 0
    link = struct.unpack("<I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:
            pkt = pkt[14:]
        elif link == 113:
            pkt = pkt[16:]
        if len(pkt) < 24 or pkt[0] >> 4 != 4:
            continue
        ihl = (pkt[0] & 15) * 4
        ip_len = struct.unpack(">H", pkt[2:4])[0]
        sport = struct.unpack(">H", pkt[ihl:ihl + 2])[0]
        if pkt[9] == 6:
            tcp_all += ip_len
            if pkt[ihl + 13] & 0x12 == 0x02:  # SYN without ACK: one new connection
                conns += 1
        if sport in ports and pkt[9] in total:
            total[pkt[9]] += ip_len
    return total[17], total[6], tcp_all, conns


def wait(pred, limit=TIMEOUT):
    start = time.time()
    while time.time() - start < limit:
        if pred():
            return True
        time.sleep(0.05)
    return False


def run(kind, workdir):
    base = free_port_block(N + ROUNDS + 1)
    ports = list(range(base, base + N + ROUNDS))
    log = Log()
    procs = []
    watcher = None
    agent_bin = os.path.join(TARGET, "release", "examples", "agent")

    def start_agent(i, join):
        name = f"{kind[0]}{i}"
        if kind == "cairn":
            cmd = [agent_bin, f"-node={name}", f"-bind=127.0.0.1:{ports[i]}", f"-profile={PROFILE}"]
            if join:
                cmd.append(f"-join=127.0.0.1:{ports[0]}")
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            threading.Thread(target=pump_agent_stdout, args=(p, i, log), daemon=True).start()
        else:
            cmd = ["serf", "agent", f"-node={name}", f"-bind=127.0.0.1:{ports[i]}",
                   f"-rpc-addr=127.0.0.1:{ports[i] + 10000}", f"-profile={PROFILE}", "-log-level=err"]
            if join:
                cmd.append(f"-join=127.0.0.1:{ports[0]}")
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        return name

    try:
        names = [start_agent(0, False)]
        time.sleep(0.5)
        for i in range(1, N):
            names.append(start_agent(i, True))
            time.sleep(0.05)
        if kind == "serf":
            rpcs = ",".join(f"127.0.0.1:{ports[i] + 10000}" for i in range(N))
            watcher = subprocess.Popen(["/tmp/serfwatch", f"-rpc={rpcs}"], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
            threading.Thread(target=pump_serfwatch, args=(watcher, log), daemon=True).start()
        observers = set(range(N))

        def converged():
            return all(len(log.first_times(n, {"alive"}, observers, 0)) == N for n in names)

        if not wait(converged):
            raise SystemExit(f"{kind}: cluster of {N} did not converge")
        time.sleep(5)

        # Steady state: bandwidth and memory.
        pcap = os.path.join(workdir, f"{kind}.pcap")
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "64", "-U", "-w", pcap,
                               f"portrange {base}-{base + N}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        t0 = time.time()
        time.sleep(STEADY)
        rss = [rss_kb(p.pid) for p in procs]
        elapsed = time.time() - t0
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
        udp, tcp, tcp_all, conns = pcap_bytes_by_port(pcap, set(ports[:N]))
        bw = (udp + tcp) / N / elapsed
        bw_all = (udp + tcp_all) / N / elapsed

        # New nodes join one after another: time until all N see each alive.
        joins = []
        for k in range(ROUNDS):
            t_join = int(time.time() * 1e6)
            new_name = start_agent(N + k, True)
            ok = wait(lambda: len(log.first_times(new_name, {"alive"}, observers, t_join)) == N)
            seen = log.first_times(new_name, {"alive"}, observers, t_join)
            joins.append((max(seen.values()) - t_join) / 1e6 if ok else float("nan"))
            time.sleep(2)

        # kill -9 original agents one after another: time until the first / every other
        # original agent marks each failed.
        det_first, det_all = [], []
        killed = set()
        for k in range(ROUNDS):
            victim = N // 2 + k
            time.sleep(3)
            t_kill = int(time.time() * 1e6)
            procs[victim].kill()
            killed.add(victim)
            others = observers - killed
            ok = wait(lambda: len(log.first_times(names[victim], {"failed"}, others, t_kill)) == len(others))
            det = log.first_times(names[victim], {"failed"}, others, t_kill)
            det_first.append((min(det.values()) - t_kill) / 1e6 if det else float("nan"))
            det_all.append((max(det.values()) - t_kill) / 1e6 if ok else float("nan"))
        return {
            "join_s": joins,
            "detect_first_s": det_first,
            "detect_all_s": det_all,
            "bytes_per_node_s": bw,
            "udp_per_node_s": udp / N / elapsed,
            "tcp_per_node_s": tcp / N / elapsed,
            "bytes_all_per_node_s": bw_all,
            "tcp_all_per_node_s": tcp_all / N / elapsed,
            "push_pulls_per_node_min": conns / N / elapsed * 60,
            "rss_mb_median": sorted(rss)[len(rss) // 2] / 1024,
            "rss_mb_max": max(rss) / 1024,
        }
    finally:
        for p in procs:
            try:
                p.kill()
            except OSError:
                pass
        if watcher:
            watcher.kill()
        for p in procs:
            try:
                p.wait(timeout=5)
            except Exception:
                pass


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "cairn-gossip", "--example", "agent"],
                   cwd=ROOT, check=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOPROXY="off",
               GOCACHE=os.path.join(tempfile.gettempdir(), "gocache"))
    subprocess.run(["go", "build", "-o", "/tmp/serfwatch", "."], cwd=os.path.join(ROOT, "benches/gossip/serfwatch"),
                   env=env, check=True)
    with tempfile.TemporaryDirectory() as d:
        results = {k: run(k, d) for k in ("cairn", "serf")}
    print(f"\n{N} agents per implementation, profile={PROFILE}, steady window {STEADY:.0f} s\n")
    print("| metric | cairn-gossip | serf 0.9.4 |")
    print("|---|---|---|")
    rows = [("new node seen by all (s), mean (samples)", "join_s", "{:.2f}"),
            ("killed node first marked failed (s)", "detect_first_s", "{:.2f}"),
            ("killed node marked failed by all (s)", "detect_all_s", "{:.2f}"),
            ("bytes sent per agent per second, all (UDP + TCP both ways)", "bytes_all_per_node_s", "{:.0f}"),
            ("  of which UDP", "udp_per_node_s", "{:.0f}"),
            ("  of which TCP, both directions (push/pull)", "tcp_all_per_node_s", "{:.0f}"),
            ("bytes sent from the gossip ports per agent per second", "bytes_per_node_s", "{:.0f}"),
            ("  of which TCP from the gossip port (push/pull replies)", "tcp_per_node_s", "{:.0f}"),
            ("TCP connections (push/pulls) per agent per minute", "push_pulls_per_node_min", "{:.2f}"),
            ("RSS per agent, median (MB)", "rss_mb_median", "{:.1f}"),
            ("RSS per agent, max (MB)", "rss_mb_max", "{:.1f}")]
    def cell(v, fmt):
        if isinstance(v, list):
            mean = sum(v) / len(v) if v else float("nan")
            return fmt.format(mean) + " (" + ", ".join(fmt.format(x) for x in v) + ")"
        return fmt.format(v)

    for label, key, fmt in rows:
        print(f"| {label} | {cell(results['cairn'][key], fmt)} | {cell(results['serf'][key], fmt)} |")


if __name__ == "__main__":
    main()
