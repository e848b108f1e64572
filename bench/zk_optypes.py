#!/usr/bin/env python3
"""Counts ZooKeeper requests by type in a packet capture, per window.

    bench/zk_optypes.py PCAP PORT WINDOWS

PCAP: a capture (tcpdump -w) of TCP port PORT on loopback, both ways.
WINDOWS: lines "window MODE T0 T1 UNITS" (lock_bench --windows): the
wall-clock bounds of a measurement window and the cycles or handoffs done
in it. For each window, prints the requests whose frame ended inside it,
by type, per unit: what every client sent, counted the same way for any
client library (C, Java), without touching the server.

It also pairs each request with its reply (by xid), prints each type's
mean time from request to reply (what the server took: its queues, the
requests of the session before it, fsyncs), and, per unit,
how long the server had at least one request of the window's clients
outstanding ("server") and how long it had none ("client"): in a cycle of
one client, the second is the time spent in the client and on the way
(its threads, the loopback), the first the server's (its queues, fsyncs).

A request frame is length (4 bytes), xid, type, body. Labels add what the
type alone does not say: "+w" when a read sets a watch, exists on "/"
apart (libzkfence's heartbeat), and a multi's sub-operations. The first
frame of each connection is its session handshake; four-letter-word
connections (mntr) are skipped. Segments the capture recorded out of
order are put back in order; a gap that stays open (packets the capture
dropped) is reported, and that stream is not counted past it.
"""
import struct
import sys

TYPES = {
    -11: "closeSession", -10: "createSession", 0: "notification", 1: "create", 2: "delete",
    3: "exists", 4: "getData", 5: "setData", 6: "getACL", 7: "setACL", 8: "getChildren",
    9: "sync", 11: "ping", 12: "getChildren2", 13: "check", 14: "multi", 15: "create2",
    16: "reconfig", 17: "checkWatches", 18: "removeWatches", 19: "createContainer",
    20: "deleteContainer", 21: "createTTL", 22: "multiRead", 100: "auth", 101: "setWatches",
    102: "sasl", 103: "getEphemerals", 104: "getAllChildrenNumber", 105: "setWatches2",
    106: "addWatch", 107: "whoAmI",
}
FOUR_LETTER = 1 << 20  # a first "length" this large is ASCII: mntr, ruok, srvr, ...


def packets(path):
    """Yields (timestamp, payload of the link layer) from a pcap file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            sys.exit("zk_optypes: %s is not a pcap file" % path)
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        link = struct.unpack(endian + "I", head[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / (1e9 if nano else 1e6), link, data


def tcp_segment(link, data):
    """(sport, dport, seq, flags, payload) of an IPv4/IPv6 TCP frame, or None."""
    if link == 1:  # Ethernet (what loopback captures as)
        off, ethertype = 14, struct.unpack("!H", data[12:14])[0]
    elif link == 113:  # Linux cooked (-i any)
        off, ethertype = 16, struct.unpack("!H", data[14:16])[0]
    elif link == 276:  # Linux cooked v2
        off, ethertype = 20, struct.unpack("!H", data[0:2])[0]
    else:
        sys.exit("zk_optypes: link type %d not supported" % link)
    if ethertype == 0x0800:
        ihl = (data[off] & 0x0F) * 4
        total = struct.unpack("!H", data[off + 2:off + 4])[0]
        if data[off + 9] != 6:
            return None
        ip_end = off + total
        off += ihl
    elif ethertype == 0x86DD:
        plen = struct.unpack("!H", data[off + 4:off + 6])[0]
        if data[off + 6] != 6:
            return None
        ip_end = off + 40 + plen
        off += 40
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", data[off:off + 8])
    doff = (data[off + 12] >> 4) * 4
    flags = data[off + 13]
    return sport, dport, seq, flags, data[off + doff:ip_end]


def zk_string(body, pos):
    n = struct.unpack("!i", body[pos:pos + 4])[0]
    pos += 4
    if n < 0:
        return None, pos
    return body[pos:pos + n].decode("utf-8", "replace"), pos + n


def multi_ops(body):
    """The sub-operation types of a multi's body, as far as they parse."""
    ops, pos = [], 0
    try:
        while pos + 9 <= len(body):
            t, done, _err = struct.unpack("!i?i", body[pos:pos + 9])
            pos += 9
            if done:
                break
            name = TYPES.get(t, str(t))
            ops.append(name)
            _path, pos = zk_string(body, pos)
            if t in (1, 15, 19, 21):  # create*: data, acl, flags (ttl)
                n = struct.unpack("!i", body[pos:pos + 4])[0]
                pos += 4 + max(n, 0)
                acls = struct.unpack("!i", body[pos:pos + 4])[0]
                pos += 4
                for _ in range(max(acls, 0)):
                    pos += 4
                    _s, pos = zk_string(body, pos)
                    _i, pos = zk_string(body, pos)
                pos += 4 + (8 if t == 21 else 0)
            elif t == 5:  # setData: data, version
                n = struct.unpack("!i", body[pos:pos + 4])[0]
                pos += 4 + max(n, 0) + 4
            elif t in (2, 13):  # delete, check: version
                pos += 4
            else:
                break
    except (struct.error, IndexError):
        pass
    return ops


def label(t, body):
    name = TYPES.get(t, "type%d" % t)
    try:
        if t in (3, 4, 8, 12):  # exists, getData, getChildren(2): path, watch
            path, pos = zk_string(body, 0)
            if t == 3 and path == "/":
                return "exists(/)"
            return name + ("+w" if body[pos] else "")
        if t == 14:
            return "multi[" + ",".join(multi_ops(body)) + "]"
    except (struct.error, IndexError):
        pass
    return name


def frames(pcap, port):
    """Yields (timestamp, label, conn, xid, reply) of every request sent to
    port (reply False) and every reply it sent (reply True, label None);
    sets frames.gaps."""
    streams = {}
    gaps = 0
    for ts, link, data in packets(pcap):
        seg = tcp_segment(link, data)
        if seg is None or port not in (seg[0], seg[1]):
            continue
        sport, dport, seq, flags, payload = seg
        reply = sport == port
        key = (dport, True) if reply else (sport, False)
        st = streams.get(key)
        if flags & 0x02:  # SYN (or SYN-ACK): a new connection from this port
            streams[key] = st = {"next": (seq + 1) & 0xFFFFFFFF, "buf": b"", "first": True,
                                 "dead": False}
            continue
        if st is None or st["dead"] or not payload:
            continue
        # In order, or early (kept until the gap before it fills), or a
        # retransmission of what we have.
        st.setdefault("early", {})
        delta = (seq - st["next"]) & 0xFFFFFFFF
        if delta >= 0x80000000:
            skip = (st["next"] - seq) & 0xFFFFFFFF
            if skip >= len(payload):
                continue
            payload, seq = payload[skip:], st["next"]
        elif delta:
            st["early"][seq] = payload
            if len(st["early"]) > 256:
                gaps += 1  # the capture lost a segment: this stream is unreadable
                st["dead"] = True
            continue
        st["next"] = (seq + len(payload)) & 0xFFFFFFFF
        while st["next"] in st["early"]:
            more = st["early"].pop(st["next"])
            payload += more
            st["next"] = (st["next"] + len(more)) & 0xFFFFFFFF
        buf = st["buf"] + payload
        while len(buf) >= 4:
            n = struct.unpack("!i", buf[:4])[0]
            if n < 0 or n >= FOUR_LETTER:
                st["dead"] = True  # a four-letter word, not a session
                buf = b""
                break
            if len(buf) < 4 + n:
                break
            frame, buf = buf[4:4 + n], buf[4 + n:]
            if st["first"]:
                st["first"] = False
                if not reply:
                    yield ts, "connect", key[0], None, False
            elif reply and len(frame) >= 4:
                yield ts, None, key[0], struct.unpack("!i", frame[:4])[0], True
            elif len(frame) >= 8:
                xid, t = struct.unpack("!ii", frame[:8])
                yield ts, label(t, frame[8:]), key[0], xid, False
        st["buf"] = buf
    frames.gaps = gaps


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    pcap, port, wpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    windows = []
    with open(wpath) as f:
        for line in f:
            w = line.split()
            if len(w) == 5 and w[0] == "window":
                windows.append((w[1], float(w[2]), float(w[3]), float(w[4]), {}))
    # Each answered request is an interval, from its sending to its reply
    # (watch events, xid -1, and pings answer nothing of ours); a window's
    # "server" time is the union of those intervals within it.
    sent = {}  # (conn, xid) -> (time, label, windows it was sent in)
    latency = [dict() for _ in windows]  # label -> [count, seconds]
    intervals = []

    for ts, lab, conn, xid, reply in frames(pcap, port):
        if not reply:
            inside = []
            for i, (_mode, t0, t1, _units, counts) in enumerate(windows):
                if t0 <= ts <= t1:
                    counts[lab] = counts.get(lab, 0) + 1
                    inside.append(i)
            if xid is None or xid < 0:
                continue
            sent[(conn, xid)] = (ts, lab, inside)
        elif (conn, xid) in sent:
            t_sent, lab, inside = sent.pop((conn, xid))
            intervals.append((t_sent, ts))
            for i in inside:
                acc = latency[i].setdefault(lab, [0, 0.0])
                acc[0] += 1
                acc[1] += ts - t_sent
    busy = [0.0] * len(windows)
    merged = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    for a, b in merged:
        for i, (_m, t0, t1, _u, _c) in enumerate(windows):
            lo, hi = max(a, t0), min(b, t1)
            if hi > lo:
                busy[i] += hi - lo
    if getattr(frames, "gaps", 0):
        print("zk_optypes: %d connection(s) lost segments in the capture: "
              "their requests after the gap are not counted" % frames.gaps)
    for i, (mode, t0, t1, units, counts) in enumerate(windows):
        total = sum(counts.values())
        per = total / units if units else float("nan")
        print("%s: %.0f units in %.2f s, %d requests, %.2f per unit" %
              (mode, units, t1 - t0, total, per))
        if units:
            print("  time per unit: %.3f ms, server %.3f ms, client %.3f ms" %
                  ((t1 - t0) * 1e3 / units, busy[i] * 1e3 / units,
                   (t1 - t0 - busy[i]) * 1e3 / units))
        for lab, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            acc = latency[i].get(lab)
            mean = "%9.3f ms" % (acc[1] * 1e3 / acc[0]) if acc and acc[0] else ""
            print("  %-34s %8d %7.3f%s" % (lab, n, n / units if units else float("nan"), mean))


if __name__ == "__main__":
    main()
