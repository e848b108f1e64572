/* bench/curator: Curator's other recipes as peers of libzkfence's in
 * bench/recipes (recipe_bench), driven through the same pipe as the lock
 * cases (CuratorBench reads the commands and calls these):
 *
 *   rwlock PATH READERS WRITERS SECONDS
 *     -> ok RATE WRITES_PER_S VIOLATIONS FAILURES
 *   semaphore PATH LEASES CLIENTS SECONDS
 *     -> ok RATE VIOLATIONS FAILURES
 *   failover PATH SESSION_MS DELAY_MS
 *     -> ok FAILOVER_MS EXPIRY_MS
 *
 * Each mirrors recipe_bench's C side: a thread per contender with a
 * CuratorFramework (a session) of its own, the same critical sections and
 * checks (readers never with a writer, one writer at a time, at most N
 * lease holders), the same ramp before the window; and for failover two
 * JVM children in a LeaderLatch, each with its own session of SESSION_MS,
 * the leader killed (SIGKILL: Process.destroyForcibly) DELAY_MS after the
 * follower's node is listed (recipe_bench's kill_delay_ms), and the time from the kill to the follower's "serving"
 * line. Only Curator's published API is used. */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;

final class CuratorRecipes {
    private CuratorRecipes() {
    }

    /* The state of one window, as recipe_bench's shared_t. */
    static final class Window {
        final AtomicInteger ready = new AtomicInteger(), readersIn = new AtomicInteger(),
                            writersIn = new AtomicInteger(), holders = new AtomicInteger(),
                            violations = new AtomicInteger(), failures = new AtomicInteger();
        final AtomicLong acquisitions = new AtomicLong(), writes = new AtomicLong();
        volatile boolean go, counting, stop;

        void count(boolean write) {
            if (counting && !stop) {
                acquisitions.incrementAndGet();
                if (write)
                    writes.incrementAndGet();
            }
        }
    }

    interface Body {
        void run(CuratorFramework c, Window w) throws Exception;
    }

    /* Runs n contenders (body(i)) for one window; returns its length (s). */
    static double window(int n, double seconds, Window w, java.util.function.IntFunction<Body> body)
        throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Body b = body.apply(i);
            Thread t = new Thread(() -> {
                try {
                    CuratorFramework c = CuratorBench.connect();
                    try {
                        b.run(c, w);
                    } finally {
                        c.close();
                    }
                } catch (Exception e) {
                    System.err.println("curator_bench: " + e);
                    w.failures.incrementAndGet();
                }
            });
            threads.add(t);
            t.start();
        }
        try {
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (w.ready.get() < n && w.failures.get() == 0 && System.nanoTime() < deadline)
                Thread.sleep(1);
            if (w.ready.get() < n)
                throw new Exception("contenders did not get ready");
            w.go = true;
            Thread.sleep(seconds >= 4 ? 1000 : (long)(seconds * 250)); /* the queue forms */
            long t0 = System.nanoTime();
            w.counting = true;
            Thread.sleep((long)(seconds * 1000)); /* the measurement window */
            w.stop = true;
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            w.stop = true;
            w.go = true;
            for (Thread t : threads)
                t.join();
        }
    }

    static void startLine(Window w) throws InterruptedException {
        w.ready.incrementAndGet();
        while (!w.go)
            Thread.sleep(1);
    }

    static String rwlock(String path, int readers, int writers, double seconds) throws Exception {
        Window w = new Window();
        double t = window(readers + writers, seconds, w, i -> (c, win) -> {
            boolean write = i >= readers;
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
            InterProcessMutex m = write ? rw.writeLock() : rw.readLock();
            startLine(win);
            while (!win.stop) {
                if (!m.acquire(30, TimeUnit.SECONDS)) {
                    win.failures.incrementAndGet();
                    break;
                }
                AtomicInteger mine = write ? win.writersIn : win.readersIn;
                int before = mine.getAndIncrement();
                if ((write ? win.readersIn : win.writersIn).get() != 0 || (write && before != 0))
                    win.violations.incrementAndGet();
                Thread.yield();
                win.count(write);
                mine.decrementAndGet();
                m.release();
            }
        });
        return String.format("ok %.1f %.1f %d %d", w.acquisitions.get() / t, w.writes.get() / t,
                             w.violations.get(), w.failures.get());
    }

    static String semaphore(String path, int leases, int clients, double seconds)
        throws Exception {
        Window w = new Window();
        double t = window(clients, seconds, w, i -> (c, win) -> {
            InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(c, path, leases);
            startLine(win);
            while (!win.stop) {
                Lease l = s.acquire(30, TimeUnit.SECONDS);
                if (l == null) {
                    win.failures.incrementAndGet();
                    break;
                }
                if (win.holders.getAndIncrement() >= leases)
                    win.violations.incrementAndGet();
                Thread.yield();
                win.count(false);
                win.holders.decrementAndGet();
                s.returnLease(l);
            }
        });
        return String.format("ok %.1f %d %d", w.acquisitions.get() / t, w.violations.get(),
                             w.failures.get());
    }

    /* ---- failover ---- */

    static Process child(String path, int sessionMs) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                                               "CuratorBench", "--zk", CuratorBench.hosts,
                                               "--session-ms", Integer.toString(sessionMs),
                                               "--warmup-s", "0", "--leader-child", path);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return pb.start();
    }

    static boolean serving(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
        String line = r.readLine(); /* the child exits on failure: EOF */
        return line != null && line.startsWith("serving");
    }

    static void end(Process p) throws Exception {
        p.getOutputStream().close(); /* the end of its input: it leaves and exits */
        if (!p.waitFor(30, TimeUnit.SECONDS))
            p.destroyForcibly(); /* our own child, by its handle */
    }

    static String failover(CuratorFramework c, String path, int sessionMs, int delayMs)
        throws Exception {
        Process a = child(path, sessionMs), b = null;
        try {
            if (!serving(a))
                return "error the first leader did not serve";
            b = child(path, sessionMs);
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (c.getChildren().forPath(path).size() < 2) { /* the follower is queued */
                if (System.nanoTime() > deadline)
                    return "error the follower did not join";
                Thread.sleep(5); /* polling, with a deadline */
            }
            Thread.sleep(delayMs); /* the benchmark's method: see kill_delay_ms */
            /* The old leader's node: when it goes, its session expired. */
            List<String> kids = c.getChildren().forPath(path);
            kids.sort((x, y) -> x.substring(x.lastIndexOf('-')).compareTo(y.substring(y.lastIndexOf('-'))));
            AtomicLong gone = new AtomicLong();
            c.checkExists()
                .usingWatcher((org.apache.zookeeper.Watcher)ev -> gone.set(System.nanoTime()))
                .forPath(path + "/" + kids.get(0));
            long t0 = System.nanoTime();
            a.destroyForcibly(); /* SIGKILL */
            if (!serving(b))
                return "error no failover";
            long t1 = System.nanoTime();
            while (gone.get() == 0 && System.nanoTime() < deadline)
                Thread.sleep(1); /* the watch's event may come a moment later */
            return String.format("ok %.0f %.0f", (t1 - t0) / 1e6, (gone.get() - t0) / 1e6);
        } finally {
            end(a);
            if (b != null)
                end(b);
        }
    }

    /* --leader-child PATH: one LeaderLatch participant; "serving" once
     * leader, leaves at the end of its input. */
    static int leaderChild(String path) throws Exception {
        CuratorFramework c = CuratorBench.connect();
        LeaderLatch latch = new LeaderLatch(c, path);
        latch.start();
        latch.await();
        System.out.println("serving");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        while (in.readLine() != null) {
        }
        latch.close();
        c.close();
        return 0;
    }
}
