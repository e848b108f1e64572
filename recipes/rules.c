/* The recipes' rules (rules.h). Two facts carry every argument below:
 *
 *   - No node is ever created below one that exists: ZooKeeper hands out
 *     sequence numbers from the parent's counter, in commit order. So once
 *     the nodes below ours are gone, they stay gone.
 *   - Only a holder releases with the release mark (attempt.c): a marked
 *     deletion means that node held right before it went.
 *
 * For each wait, gone_holds and mark_holds say whether the watched node's
 * going (any deletion) or its release (the mark) proves that ours holds;
 * when neither does, the core lists again. */
#include "rules.h"

int zkf__rule_first(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w)
{
    if (me == 0)
        return 1;
    w->node = me - 1;
    /* The head's going, however it goes, leaves nothing below us. */
    w->gone_holds = me == 1;
    /* A predecessor that held was first: nothing was left below it. */
    w->mark_holds = 1;
    return 0;
}

/* The nearest write node below `me`, or `me` if there is none. */
static size_t write_below(const zkf__node_t *nodes, size_t me)
{
    for (size_t i = me; i-- > 0;)
        if (nodes[i].kind == ZKF__KIND_WRITE)
            return i;
    return me;
}

int zkf__rule_rw(void *owner, const zkf__node_t *nodes, size_t n, size_t me, zkf__wait_t *w)
{
    if (nodes[me].kind == ZKF__KIND_WRITE) {
        /* A writer excludes everyone: the exclusive lock's rule, except
         * that a reader's release (marked: it held) may leave other
         * readers holding below it. A writer's release leaves none: it
         * held, so it was first. */
        if (me == 0)
            return 1;
        w->node = me - 1;
        w->gone_holds = me == 1;
        w->mark_holds = nodes[me - 1].kind == ZKF__KIND_WRITE;
        return 0;
    }
    /* A reader waits only for writers. Readers between the nearest writer
     * and us do not matter; the writers below that one do, until they go:
     * while it is the lowest writer, its going leaves none below us. */
    size_t wr = write_below(nodes, me);
    if (wr == me)
        return 1;
    w->node = wr;
    w->gone_holds = write_below(nodes, wr) == wr;
    /* A writer that held was first: only readers lay between it and us. */
    w->mark_holds = 1;
    return 0;
}

int zkf__rule_among_first(size_t limit, size_t me, zkf__wait_t *w)
{
    if (me < limit)
        return 1;
    /* Any of the `limit` nodes below us may be the next to go, in any
     * order: no one node can be watched for it. */
    w->children = 1;
    return 0;
}
