/* A small reader of the XML an S3 endpoint answers with (Error,
 * ListBucketResult, ListAllMyBucketsResult, CopyObjectResult): elements and
 * their text, nothing else. Attributes and namespaces are skipped,
 * character and entity references decoded, CDATA taken as text, comments
 * and processing instructions skipped. No DTDs (a <!DOCTYPE is refused:
 * no entity expansion). Pure; bytes from the network: fuzzed
 * (fuzz_s3xml). */
#ifndef ZKP_S3XML_H
#define ZKP_S3XML_H

#include <stddef.h>

#define ZKP_S3XML_DEPTH 16 /* deeper documents are refused */

typedef struct zkp_s3xml_handler {
    /* An element begins; depth 1 is the root. */
    void (*open)(void *arg, const char *name, int depth);
    /* An element ends. text: the decoded text directly inside it (of a
     * leaf; "" for an element with children), NUL-terminated, len bytes
     * (may hold a NUL from &#0;... refused: never). */
    void (*close)(void *arg, const char *name, int depth, const char *text, size_t len);
} zkp_s3xml_handler_t;

/* Parses xml[0..len). Returns 0, or -1 if it is not well-formed as far as
 * this reader checks (unbalanced or mismatched tags, bad references, too
 * deep, a DOCTYPE, no root element) or on OOM. Callbacks may have been
 * made before a -1. */
int zkp_s3xml_parse(const char *xml, size_t len, const zkp_s3xml_handler_t *h, void *arg);

#endif
