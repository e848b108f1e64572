/* The S3 error that answers a backend error code. */
#include "s3/errors.h"

#include "http/respond.h"

/* How long an S3 client should wait before retrying a request the
 * upstream could not take. */
#define RETRY_AFTER_S "1"

enum MHD_Result zkp_respond_be_error(zkp_req_t *r, int be_rc)
{
    switch (be_rc) {
    case ZKP_BE_NO_KEY:
        return zkp_respond_error(r, 404, "NoSuchKey", "The specified key does not exist.");
    case ZKP_BE_NO_BUCKET:
        return zkp_respond_error(r, 404, "NoSuchBucket", "The specified bucket does not exist");
    case ZKP_BE_EXISTS:
        return zkp_respond_error(r, 409, "BucketAlreadyOwnedByYou",
                                 "Your previous request to create the named bucket succeeded "
                                 "and you already own it.");
    case ZKP_BE_NOT_EMPTY:
        return zkp_respond_error(r, 409, "BucketNotEmpty",
                                 "The bucket you tried to delete is not empty");
    case ZKP_BE_NO_UPLOAD:
        return zkp_respond_error(r, 404, "NoSuchUpload",
                                 "The specified upload does not exist. The upload ID may be "
                                 "invalid, or the upload may have been aborted or completed.");
    case ZKP_BE_INVALID_PART:
        return zkp_respond_error(r, 400, "InvalidPart",
                                 "One or more of the specified parts could not be found. The part "
                                 "may not have been uploaded, or the specified entity tag may not "
                                 "match the part's entity tag.");
    case ZKP_BE_PART_TOO_SMALL:
        return zkp_respond_error(r, 400, "EntityTooSmall",
                                 "Your proposed upload is smaller than the minimum allowed object "
                                 "size.");
    case ZKP_BE_BAD_RANGE:
        return zkp_respond_error(r, 400, "InvalidArgument",
                                 "Range specified is not valid for the source object's size");
    case ZKP_BE_TOO_LARGE:
        return zkp_respond_error(r, 413, "EntityTooLarge",
                                 "Your proposed upload exceeds the maximum allowed object size.");
    case ZKP_BE_PRECONDITION:
        return zkp_respond_error(r, 412, "PreconditionFailed",
                                 "At least one of the pre-conditions you specified did not hold");
    case ZKP_BE_UNAVAILABLE:
        /* The upstream is down, slow or overloaded: S3 clients retry. */
        return zkp_respond_error_hdr(r, 503, "ServiceUnavailable",
                                     zkp_be_detail()->message[0]
                                         ? zkp_be_detail()->message
                                         : "The upstream store is unavailable",
                                     "Retry-After", RETRY_AFTER_S);
    case ZKP_BE_BAD_GATEWAY:
        return zkp_respond_error(r, 502, "BadGateway",
                                 zkp_be_detail()->message[0] ? zkp_be_detail()->message
                                                             : "The upstream store's answer is "
                                                               "not S3");
    case ZKP_BE_UPSTREAM: {
        /* The upstream's own refusal, passed through as it said it. */
        const zkp_be_detail_t *d = zkp_be_detail();
        int st = (d->status >= 400 && d->status < 500) || d->status == 501 ? d->status : 400;
        return zkp_respond_error(r, st, d->code[0] ? d->code : "InvalidRequest",
                                 d->message[0] ? d->message : "Refused by the upstream store");
    }
    case ZKP_BE_NOMEM:
        return zkp_respond_error(r, 503, "SlowDown", "Out of memory, please retry");
    default:
        return zkp_respond_error(r, 500, "InternalError", "Storage error");
    }
}
