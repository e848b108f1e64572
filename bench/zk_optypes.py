#!/usr/bin/env python3
"""Counts ZooKeeper requests by type in a packet capture, per window.

    bench/zk_optypes.py PCAP PORT WINDOWS

PCAP: a capture (tcpdump -w) of the client-to-server side of TCP port PORT
on loopback. WINDOWS: lines "window MODE T0 T1 UNITS" (lock_bench
--windows): the wall-clock bounds of a measurement window and the cycles
or handoffs done in it. For each window, prints the requests whose frame
ended inside it, by type, per unit: what every client sent, counted the
same way for any client library (C, Java), without touching the server.

A request frame is length (4 bytes), xid, type, body. Labels add what the
type alone does not say: "+w" when a read sets a watch, exists on "/"
apart (libzkfence's heartbeat), and a multi's sub-operations. The first
frame of each connection is its session handshake; four-letter-word
connections (mntr) are skipped. A gap in a stream (packets the capture
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
    """Yields (timestamp, label) of every request sent to port; returns gaps."""
    streams = {}
    gaps = 0
    for ts, link, data in packets(pcap):
        seg = tcp_segment(link, data)
        if seg is None or seg[1] != port:
            continue
        sport, _dport, seq, flags, payload = seg
        st = streams.get(sport)
        if flags & 0x02:  # SYN: a new connection from this port
            streams[sport] = st = {"next": (seq + 1) & 0xFFFFFFFF, "buf": b"", "first": True,
                                   "dead": False}
            continue
        if st is None or st["dead"] or not payload:
            continue
        delta = (seq - st["next"]) & 0xFFFFFFFF
        if delta >= 0x80000000:  # starts before what we have: a retransmission
            skip = (st["next"] - seq) & 0xFFFFFFFF
            if skip >= len(payload):
                continue
            payload, seq = payload[skip:], st["next"]
        elif delta:
            gaps += 1  # the capture lost a segment: this stream is unreadable
            st["dead"] = True
            continue
        st["next"] = (seq + len(payload)) & 0xFFFFFFFF
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
                yield ts, "connect"
            elif len(frame) >= 8:
                _xid, t = struct.unpack("!ii", frame[:8])
                yield ts, label(t, frame[8:])
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
    for ts, lab in frames(pcap, port):
        for _mode, t0, t1, _units, counts in windows:
            if t0 <= ts <= t1:
                counts[lab] = counts.get(lab, 0) + 1
    if getattr(frames, "gaps", 0):
        print("zk_optypes: %d connection(s) lost segments in the capture: "
              "their requests after the gap are not counted" % frames.gaps)
    for mode, t0, t1, units, counts in windows:
        total = sum(counts.values())
        per = total / units if units else float("nan")
        print("%s: %.0f units in %.2f s, %d requests, %.2f per unit" %
              (mode, units, t1 - t0, total, per))
        for lab, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print("  %-34s %8d %7.3f" % (lab, n, n / units if units else float("nan")))


if __name__ == "__main__":
    main()
