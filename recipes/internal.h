/* Every internal header of libzkfence, for the white-box tests. The
 * library's own files include only what they use:
 *
 *   common.h   allocation, time, node names, paths, errors (leaf helpers)
 *   client.h   the session, events, watches, background deletions, and
 *              the registry of recipe objects (callback tables)
 *   attempt.h  the attempt core and the recipe table (prefixes, rule)
 *   lock.h     the exclusive lock object
 *
 * Calls go down this list only; the client reaches recipes through the
 * callback tables it keeps. */
#ifndef ZKFENCE_INTERNAL_H
#define ZKFENCE_INTERNAL_H

#include "common.h"
#include "client.h"
#include "attempt.h"
#include "lock.h"

#endif /* ZKFENCE_INTERNAL_H */
