/* bench/curator: Apache Curator's InterProcessMutex as a peer of libzkfence in
 * bench/lock, driven by lock_bench over a pipe so that its runs interleave
 * with zkfence's and the raw recipe's, round by round, on the same
 * ZooKeeper.
 *
 *   curator_bench --zk HOSTS [--session-ms N] [--warmup-s S]
 *
 * warms up, prints "ready", then reads one command per line on stdin and
 * answers one line on stdout:
 *
 *   uncontended PATH CYCLES
 *     -> ok RATE P50_MS P99_MS ZK_OPS ZK_FSYNCS CPU_US CTXSW UNITS W0 W1
 *   contended PATH CLIENTS SECONDS threads|procs
 *     -> ok RATE P50_MS P99_MS ZK_OPS ZK_FSYNCS CPU_US CTXSW
 *           FAIRNESS VIOLATIONS LOST FAILURES UNITS W0 W1
 *
 * and the commands of the other recipes (CuratorRecipes.java: rwlock,
 * semaphore, failover), or "error MESSAGE". CPU_US and CTXSW are this JVM's CPU time and its
 * threads' voluntary context switches per unit (-1 for "procs", whose
 * contenders are other processes), UNITS the number of cycles or handoffs
 * measured, W0 and W1 the window's wall-clock bounds (seconds since the
 * epoch, for bench/op-breakdown). It exits at the end of its input.
 *
 * Everything mirrors lock_bench's C side: one session per contender (a
 * CuratorFramework of its own, same session timeout), the same critical
 * section (an exclusion flag and a non-atomic counter, shared memory across
 * processes), the wait from acquire() to its return as the latency, the
 * window opened after the same ramp (a quarter of it, 1 s at most) and
 * handoffs counted in it only, Jain's fairness index, and ZooKeeper
 * requests and log fsyncs per cycle or handoff from the server's
 * zk_packets_received and zk_cnt_fsynctime (`mntr`) read right before and
 * after the window.
 *
 * The JVM compiles hot code only after it ran for a while: before its
 * first command the peer runs --warmup-s seconds of uncontended cycles and
 * as many of two contending threads, and each contender process of
 * "procs" runs --warmup-s seconds of cycles on a lock of its own before it
 * reports ready. The warm-up is outside every measurement.
 *
 * Only Curator's published API is used (Debian's libcurator-recipes-java). */

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;

public final class CuratorBench {
    static final int MAX_CLIENTS = 64;
    static final int MAX_LAT = 8192; /* latency samples kept per client and round */

    static String hosts;
    static int sessionMs = 10000;
    static double warmupS = 2;

    /* ---- state shared by the contenders: threads or processes ----
     *
     * One direct buffer, mapped from a file under /dev/shm for processes,
     * with the same fields as lock_bench's shared_t. */
    static final class Shared {
        static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());
        static final VarHandle LONG =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
        static final int READY = 0, GO = 4, STOP = 8, IN_CS = 12, VIOLATIONS = 16, FAILURES = 20;
        static final int COUNTING = 24, COUNTER = 32, ENTRIES = 40, HANDOFFS = 48, PER_CLIENT = 56;
        static final int NLAT = PER_CLIENT + 8 * MAX_CLIENTS;
        static final int LAT = NLAT + 4 * MAX_CLIENTS;
        static final int SIZE = LAT + 8 * MAX_CLIENTS * MAX_LAT;

        final ByteBuffer b;

        Shared(ByteBuffer b) {
            this.b = b;
        }

        int geti(int off) {
            return (int)INT.getVolatile(b, off);
        }

        void seti(int off, int v) {
            INT.setVolatile(b, off, v);
        }

        int addi(int off, int d) {
            return (int)INT.getAndAdd(b, off, d);
        }

        long getl(int off) {
            return (long)LONG.getVolatile(b, off);
        }

        void addl(int off, long d) {
            LONG.getAndAdd(b, off, d);
        }
    }

    static ByteBuffer mapFile(File f, boolean create) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(f, "rw")) {
            if (create)
                raf.setLength(Shared.SIZE);
            return raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, Shared.SIZE);
        }
    }

    /* ---- ZooKeeper ---- */

    static CuratorFramework connect() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                                 .connectString(hosts)
                                 .sessionTimeoutMs(sessionMs)
                                 .connectionTimeoutMs(15000)
                                 .retryPolicy(new RetryNTimes(3, 100))
                                 .build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            c.close();
            throw new Exception("cannot connect to " + hosts);
        }
        return c;
    }

    /* zk_packets_received and zk_cnt_fsynctime (every request a client sent,
     * and every fsync of the log) from `mntr` on the first server of the
     * hosts; -1 where unknown. */
    static long[] mntr() {
        long[] v = {-1, -1};
        String first = hosts.split(",")[0];
        int slash = first.indexOf('/');
        if (slash >= 0)
            first = first.substring(0, slash);
        int colon = first.lastIndexOf(':');
        if (colon < 0)
            return v;
        try (Socket s = new Socket(first.substring(0, colon),
                                   Integer.parseInt(first.substring(colon + 1)))) {
            OutputStream out = s.getOutputStream();
            out.write("mntr".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String text = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            for (String line : text.split("\n")) {
                String[] kv = line.trim().split("\\s+");
                if (kv.length == 2 && kv[0].equals("zk_packets_received"))
                    v[0] = Long.parseLong(kv[1]);
                else if (kv.length == 2 && kv[0].equals("zk_cnt_fsynctime"))
                    v[1] = Long.parseLong(kv[1]);
            }
        } catch (Exception e) {
            return v;
        }
        return v;
    }

    /* This JVM's CPU time (ns) and its live threads' voluntary context
     * switches; -1 where unknown. */
    static long[] self() {
        long[] v = {-1, 0};
        java.lang.management.OperatingSystemMXBean os =
            java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean)
            v[0] = ((com.sun.management.OperatingSystemMXBean)os).getProcessCpuTime();
        File[] tasks = new File("/proc/self/task").listFiles();
        if (tasks == null)
            return new long[] {v[0], -1};
        for (File t : tasks) {
            try {
                for (String line :
                     java.nio.file.Files.readAllLines(new File(t, "status").toPath())) {
                    if (line.startsWith("voluntary_ctxt_switches:"))
                        v[1] += Long.parseLong(line.substring(24).trim());
                }
            } catch (Exception e) {
                /* the thread ended meanwhile */
            }
        }
        return v;
    }

    /* Counters of the server (mntr) and of this JVM (self), at one moment. */
    static long[] counters() {
        long[] m = mntr(), p = self();
        return new long[] {m[0], m[1], p[0], p[1]};
    }

    /* Requests, fsyncs, CPU (us) and context switches between two readings,
     * per unit of work; the last two only where the contenders are ours. */
    static String perUnit(long[] a, long[] b, double units, boolean ours) {
        boolean ok = units > 0;
        double ops = ok && a[0] >= 0 && b[0] >= 0 ? (b[0] - a[0]) / units : -1;
        double fsyncs = ok && a[1] >= 0 && b[1] >= 0 ? (b[1] - a[1]) / units : -1;
        ok = ok && ours && a[2] >= 0 && b[2] >= 0 && a[3] >= 0 && b[3] >= 0;
        double cpu = ok ? (b[2] - a[2]) / 1e3 / units : -1;
        double cs = ok ? (b[3] - a[3]) / units : -1;
        return String.format("%.2f %.2f %.0f %.2f", ops, fsyncs, cpu, cs);
    }

    /* Sorts v in place; the same rank as lock_bench's pct(). */
    static double pct(double[] v, int n, double p) {
        if (n == 0)
            return 0;
        Arrays.sort(v, 0, n);
        int i = (int)Math.ceil(p / 100.0 * n);
        return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
    }

    static double ms(long ns) {
        return ns / 1e6;
    }

    static double wall() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() + t.getNano() / 1e9;
    }

    /* ---- uncontended ---- */

    static String uncontended(CuratorFramework c, String path, int cycles) throws Exception {
        InterProcessMutex m = new InterProcessMutex(c, path);
        m.acquire(); /* the first acquire creates the lock's path: not timed */
        m.release();
        double[] lat = new double[cycles];
        long[] k0 = counters();
        double w0 = wall();
        long t0 = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            long a = System.nanoTime();
            m.acquire();
            m.release(); /* returns once ZooKeeper answered the delete */
            lat[i] = ms(System.nanoTime() - a);
        }
        double t = (System.nanoTime() - t0) / 1e9;
        double w1 = wall();
        long[] k1 = counters();
        return String.format("ok %.1f %.3f %.3f %s %d %.6f %.6f", cycles / t,
                             pct(lat, cycles, 50), pct(lat, cycles, 99),
                             perUnit(k0, k1, cycles, true),
                             cycles, w0, w1);
    }

    /* ---- contended ---- */

    static void criticalSection(Shared sh, int id, double waitedMs) {
        if ((int)Shared.INT.getAndSet(sh.b, Shared.IN_CS, 1) != 0)
            sh.addi(Shared.VIOLATIONS, 1);
        long v = sh.b.getLong(Shared.COUNTER);
        Thread.yield();
        sh.b.putLong(Shared.COUNTER, v + 1);
        sh.addl(Shared.ENTRIES, 1);
        if (sh.geti(Shared.COUNTING) != 0 && sh.geti(Shared.STOP) == 0) { /* the window only */
            int n = sh.b.getInt(Shared.NLAT + 4 * id);
            if (n < MAX_LAT) {
                sh.b.putDouble(Shared.LAT + 8 * (id * MAX_LAT + n), waitedMs);
                sh.b.putInt(Shared.NLAT + 4 * id, n + 1);
            }
            sh.addl(Shared.PER_CLIENT + 8 * id, 1);
            sh.addl(Shared.HANDOFFS, 1);
        }
        sh.seti(Shared.IN_CS, 0);
    }

    /* One contender: its own session, one mutex on the shared path. */
    static void contend(Shared sh, int id, String path) {
        try {
            CuratorFramework c = connect();
            try {
                InterProcessMutex m = new InterProcessMutex(c, path);
                sh.addi(Shared.READY, 1);
                while (sh.geti(Shared.GO) == 0)
                    Thread.sleep(1);
                while (sh.geti(Shared.STOP) == 0) {
                    long a = System.nanoTime();
                    if (!m.acquire(30, TimeUnit.SECONDS)) {
                        System.err.println("curator_bench: contender " + id + ": timed out");
                        sh.addi(Shared.FAILURES, 1);
                        break;
                    }
                    criticalSection(sh, id, ms(System.nanoTime() - a));
                    m.release();
                }
            } finally {
                c.close();
            }
        } catch (Exception e) {
            System.err.println("curator_bench: contender " + id + ": " + e);
            sh.addi(Shared.FAILURES, 1);
        }
    }

    static String contended(String path, int clients, double seconds, boolean procs)
        throws Exception {
        File shm = null;
        Shared sh;
        List<Thread> threads = new ArrayList<>();
        List<Process> children = new ArrayList<>();
        if (procs) {
            shm = File.createTempFile("curator_bench", ".shm", new File("/dev/shm"));
            sh = new Shared(mapFile(shm, true));
            String java = ProcessHandle.current().info().command().orElse("java");
            String cp = System.getProperty("java.class.path");
            for (int i = 0; i < clients; i++) {
                ProcessBuilder pb = new ProcessBuilder(
                    java, "-cp", cp, "CuratorBench", "--zk", hosts, "--session-ms",
                    Integer.toString(sessionMs), "--warmup-s", Double.toString(warmupS),
                    "--child", shm.getPath(), Integer.toString(i), path);
                pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
                pb.redirectError(ProcessBuilder.Redirect.INHERIT);
                children.add(pb.start());
            }
        } else {
            sh = new Shared(ByteBuffer.allocateDirect(Shared.SIZE).order(ByteOrder.nativeOrder()));
            for (int i = 0; i < clients; i++) {
                final int id = i;
                Thread t = new Thread(() -> contend(sh, id, path));
                threads.add(t);
                t.start();
            }
        }
        try {
            /* Everyone connected (and, for processes, warmed): start together. */
            long deadline = System.nanoTime() + (long)((30 + (procs ? 4 * warmupS : 0)) * 1e9);
            while (sh.geti(Shared.READY) < clients && sh.geti(Shared.FAILURES) == 0 &&
                   System.nanoTime() < deadline)
                Thread.sleep(1);
            if (sh.geti(Shared.READY) < clients) {
                sh.seti(Shared.STOP, 1);
                sh.seti(Shared.GO, 1);
                return "error contenders did not get ready";
            }
            /* The window opens after the same ramp as lock_bench's. */
            sh.seti(Shared.GO, 1);
            Thread.sleep(seconds >= 4 ? 1000 : (long)(seconds * 250));
            long[] k0 = counters();
            double w0 = wall();
            long t0 = System.nanoTime();
            sh.seti(Shared.COUNTING, 1);
            Thread.sleep((long)(seconds * 1000)); /* the measurement window */
            sh.seti(Shared.STOP, 1);
            double t = (System.nanoTime() - t0) / 1e9;
            long total = sh.getl(Shared.HANDOFFS);
            double w1 = wall();
            long[] k1 = counters();
            for (Thread th : threads)
                th.join();
            for (Process p : children)
                if (p.waitFor() != 0)
                    sh.addi(Shared.FAILURES, 1);
            double sum = 0, sq = 0;
            int nall = 0;
            for (int i = 0; i < clients; i++)
                nall += Math.min(sh.b.getInt(Shared.NLAT + 4 * i), MAX_LAT);
            double[] all = new double[nall];
            int k = 0;
            for (int i = 0; i < clients; i++) {
                double n = sh.getl(Shared.PER_CLIENT + 8 * i);
                sum += n;
                sq += n * n;
                int nl = Math.min(sh.b.getInt(Shared.NLAT + 4 * i), MAX_LAT);
                for (int j = 0; j < nl; j++)
                    all[k++] = sh.b.getDouble(Shared.LAT + 8 * (i * MAX_LAT + j));
            }
            double fairness = sq > 0 ? sum * sum / (clients * sq) : 0;
            long lost = sh.getl(Shared.ENTRIES) - sh.b.getLong(Shared.COUNTER);
            return String.format("ok %.1f %.3f %.3f %s %.3f %d %d %d %d %.6f %.6f", total / t,
                                 pct(all, nall, 50), pct(all, nall, 99),
                                 perUnit(k0, k1, total, !procs),
                                 fairness, sh.geti(Shared.VIOLATIONS), lost,
                                 sh.geti(Shared.FAILURES), total, w0, w1);
        } finally {
            sh.seti(Shared.STOP, 1);
            for (Thread th : threads)
                th.join();
            for (Process p : children) {
                if (!p.waitFor(30, TimeUnit.SECONDS))
                    p.destroyForcibly(); /* our own child, by its handle */
            }
            if (shm != null && !shm.delete())
                System.err.println("curator_bench: cannot remove " + shm);
        }
    }

    /* ---- warm-up (see the top) ---- */

    static void cyclesFor(CuratorFramework c, String path, double seconds) throws Exception {
        InterProcessMutex m = new InterProcessMutex(c, path);
        long end = System.nanoTime() + (long)(seconds * 1e9);
        do {
            m.acquire();
            m.release();
        } while (System.nanoTime() < end);
    }

    static void warmUp(CuratorFramework c, String base) throws Exception {
        if (warmupS <= 0)
            return;
        cyclesFor(c, base + "/warm-u", warmupS);
        String r = contended(base + "/warm-c", 2, warmupS, false);
        if (!r.startsWith("ok"))
            throw new Exception("warm-up: " + r);
    }

    /* --child SHM ID PATH: one contender process of "procs". */
    static int child(String shmPath, int id, String path) throws Exception {
        Shared sh = new Shared(mapFile(new File(shmPath), false));
        if (warmupS > 0) {
            CuratorFramework c = connect();
            try {
                cyclesFor(c, path + "-warm" + id, warmupS);
            } finally {
                c.close();
            }
        }
        contend(sh, id, path);
        return 0;
    }

    static String serve(CuratorFramework c, String line) {
        String[] w = line.trim().split("\\s+");
        try {
            if (w.length == 3 && w[0].equals("uncontended"))
                return uncontended(c, w[1], Integer.parseInt(w[2]));
            if (w.length == 5 && w[0].equals("contended") &&
                (w[4].equals("threads") || w[4].equals("procs"))) {
                int clients = Integer.parseInt(w[2]);
                if (clients < 1 || clients > MAX_CLIENTS)
                    return "error clients must be 1.." + MAX_CLIENTS;
                return contended(w[1], clients, Double.parseDouble(w[3]), w[4].equals("procs"));
            }
            if (w.length == 5 && w[0].equals("rwlock"))
                return CuratorRecipes.rwlock(w[1], Integer.parseInt(w[2]), Integer.parseInt(w[3]),
                                             Double.parseDouble(w[4]));
            if (w.length == 5 && w[0].equals("semaphore"))
                return CuratorRecipes.semaphore(w[1], Integer.parseInt(w[2]),
                                                Integer.parseInt(w[3]), Double.parseDouble(w[4]));
            if (w.length == 4 && w[0].equals("failover"))
                return CuratorRecipes.failover(c, w[1], Integer.parseInt(w[2]),
                                               Integer.parseInt(w[3]));
            return "error unknown command: " + line.trim();
        } catch (Exception e) {
            return "error " + e.toString().replace('\n', ' ');
        }
    }

    static void usage(PrintStream f) {
        f.println("usage: curator_bench --zk HOSTS [--session-ms N] [--warmup-s S]");
    }

    public static void main(String[] args) throws Exception {
        String[] childArgs = null;
        String leaderPath = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--zk") && i + 1 < args.length) {
                hosts = args[++i];
            } else if (a.equals("--session-ms") && i + 1 < args.length) {
                sessionMs = Integer.parseInt(args[++i]);
            } else if (a.equals("--warmup-s") && i + 1 < args.length) {
                warmupS = Double.parseDouble(args[++i]);
            } else if (a.equals("--child") && i + 3 < args.length) {
                childArgs = Arrays.copyOfRange(args, i + 1, i + 4);
                i += 3;
            } else if (a.equals("--leader-child") && i + 1 < args.length) {
                leaderPath = args[++i];
            } else if (a.equals("-h") || a.equals("--help")) {
                usage(System.out);
                return;
            } else {
                usage(System.err);
                System.exit(64);
            }
        }
        if (hosts == null) {
            usage(System.err);
            System.exit(64);
        }
        if (leaderPath != null)
            System.exit(CuratorRecipes.leaderChild(leaderPath));
        if (childArgs != null)
            System.exit(child(childArgs[0], Integer.parseInt(childArgs[1]), childArgs[2]));

        CuratorFramework c = connect();
        String base = "/zkfence-bench/curator-" + ProcessHandle.current().pid();
        warmUp(c, base);
        System.out.println("ready"); /* nothing of ours runs from here on unless asked */
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank())
                continue;
            System.out.println(serve(c, line));
            System.out.flush();
        }
        c.close();
        System.exit(0); /* Curator's and ZooKeeper's threads must not hold us */
    }
}
