/* Locks bound to keys, for a request (s3/binding.c): the configuration's
 * bindings (fence/bind.h) applied before the fencing gate (s3/gate.h)
 * looks at a mark. A key bound to a lock is fenced by that lock only:
 *
 *   - a request naming another lock: 403 FencingLockMismatch, naming the
 *     bound lock (audited: rejected_lock_mismatch); nothing is looked at;
 *   - a request sending a token alone: the bound lock is taken (the token
 *     is still required; the bucket's `fencing` policy says when);
 *   - a request on an unbound key naming a lock that a binding gives to
 *     other keys: 403 FencingLockMismatch (it would raise that lock's mark
 *     for them);
 *   - a listing: the lock of the bucket as a whole, when one binding fixes
 *     it; else the named lock must be one the bucket's bindings give;
 *   - DeleteObjects: every key's lock must be the same (400 otherwise),
 *     known once the body is read (zkp_binding_keys).
 * CopyObject is bound by its destination; its source is an ordinary read
 * (the request's lock and token fence the destination write).
 *
 * Multipart uploads and every other operation that writes a key call
 * zkp_binding_request() for the key they write (r->op.bucket, r->op.key),
 * or zkp_binds_lock_for() (fence/bind.h) for the lookup alone. */
#ifndef ZKP_BINDING_H
#define ZKP_BINDING_H

#include <stddef.h>

#include "http/reqctx.h"

/* At request start, before the gate's precheck, for every request that may
 * be fenced (r->op.mutating or r->op.reading). Returns 0 to go on (r->op's
 * lock and fence updated: a bound lock taken, or lock_pending set), or -1
 * with the error response queued and *res set. */
int zkp_binding_request(zkp_req_t *r, enum MHD_Result *res);

/* DeleteObjects, once its keys are known: the keys that are valid
 * (skip[i] != 0: the caller refuses key i by itself) must all have the
 * same lock, or none; a pending lock is taken from them. Returns 0 or -1
 * as zkp_binding_request(). */
int zkp_binding_keys(zkp_req_t *r, char *const *keys, const int *skip, size_t nkeys,
                     enum MHD_Result *res);

#endif
