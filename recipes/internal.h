/* Every internal header of libzkfence, for the white-box tests. The
 * library's own files include only what they use:
 *
 *   common.h   allocation, time, node names, paths, errors (leaf helpers)
 *   client.h   the session, events, watches, background deletions, and
 *              the registry of recipe objects (callback tables)
 *   attempt.h  the attempt core and the recipe table (prefixes, rule)
 *   rules.h    the recipes' rules
 *   listing.h  listing a recipe's nodes
 *   holder.h   the recipe object: the lock's, and embedded in the others
 *   lock.h     the exclusive lock
 *
 * Calls go down this list only; the client reaches recipes through the
 * callback tables it keeps. */
#ifndef ZKFENCE_INTERNAL_H
#define ZKFENCE_INTERNAL_H

#include "common.h"
#include "client.h"
#include "attempt.h"
#include "holder.h"
#include "listing.h"
#include "lock.h"
#include "rules.h"

#endif /* ZKFENCE_INTERNAL_H */
