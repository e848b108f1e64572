/* S3 XML: escaping, the <Error> document, and the XML request bodies the
 * proxy reads (DeleteObjects, CompleteMultipartUpload). Output is built in
 * a zkp_buf_t. The parsers read bytes from the network: they have a fuzz
 * target (tests/proxy/fuzz_request.c). */
#ifndef ZKP_XML_H
#define ZKP_XML_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h" /* zkp_part_ref_t */
#include "util/buf.h"

#define ZKP_XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define ZKP_S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Appends s[0..len) with &, <, >, " and ' escaped, and control characters
 * other than tab/newline/CR as numeric references (S3 does the same; clients
 * that need exact control bytes ask for encoding-type=url). */
void zkp_xml_escape(zkp_buf_t *b, const char *s, size_t len);
/* Appends <tag>escaped text</tag>. */
void zkp_xml_elem(zkp_buf_t *b, const char *tag, const char *text);
/* Appends <tag>text</tag>, the text percent-encoded when url_encode (a
 * listing asked for encoding-type=url: keys may hold bytes XML 1.0 cannot
 * carry). */
void zkp_xml_elem_enc(zkp_buf_t *b, const char *tag, const char *text, int url_encode);

/* Extra elements of an error document, e.g. the fencing details. */
typedef struct zkp_xml_extra {
    const char *tag;
    const char *text;
} zkp_xml_extra_t;

/* Builds a complete S3 error document:
 * <Error><Code/><Message/><Resource/><RequestId/>extras...</Error>.
 * Returns a malloc'ed NUL-terminated string (free()), or NULL on OOM. */
char *zkp_xml_error(const char *code, const char *message, const char *resource,
                    const char *request_id, const zkp_xml_extra_t *extra, size_t nextra,
                    size_t *len);

/* The longest character reference the DeleteObjects parser accepts, from
 * '&' to ';' ("&#000000038;" is one byte): the most bytes one key byte can
 * take in a request body. */
#define ZKP_XML_REF_MAX 12

/* The parsed body of DeleteObjects. */
typedef struct zkp_delete_req {
    char **keys;     /* decoded keys, owned */
    char **versions; /* each key's <VersionId>, decoded, or NULL; owned */
    size_t nkeys;
    int quiet;
} zkp_delete_req_t;

/* Parses <Delete><Quiet>true</Quiet><Object><Key>k</Key>
 * <VersionId>v</VersionId></Object>...</Delete> (VersionId optional).
 * Tolerant of whitespace, namespaces on <Delete> and unknown elements.
 * Returns 0, or -1 if the document is malformed, has no keys, more than
 * max_keys keys, or an entity it does not know. Free with
 * zkp_delete_req_free(). */
int zkp_xml_parse_delete(const char *body, size_t len, size_t max_keys, zkp_delete_req_t *out);
void zkp_delete_req_free(zkp_delete_req_t *d);

/* Parses CreateBucket's optional body: nothing (whitespace), or
 * <CreateBucketConfiguration ...><LocationConstraint>r</LocationConstraint>
 * </CreateBucketConfiguration> (an XML declaration before it, namespaces and
 * other elements in it allowed; a self-closing root is an empty one).
 * *location: the constraint, decoded and trimmed (malloc'ed, free()), or
 * NULL when there is none. Returns 0, or -1 if the body is anything else
 * (a misaddressed PutObject's data, say) or malformed. */
int zkp_xml_parse_create_bucket(const char *body, size_t len, char **location);

/* The parsed body of CompleteMultipartUpload: the parts as listed. */
typedef struct zkp_complete_req {
    zkp_part_ref_t *parts; /* owned */
    size_t nparts;
} zkp_complete_req_t;

/* Parses <CompleteMultipartUpload><Part><PartNumber>1</PartNumber>
 * <ETag>"..."</ETag></Part>...</CompleteMultipartUpload>. Each part needs a
 * PartNumber (decimal, 0..999999999: whether it is in range and uploaded is
 * for the caller to say) and an ETag (entities decoded, surrounding
 * whitespace and double quotes removed, at most ZKP_ETAG_MAX characters);
 * other elements (checksums) are ignored. The order is kept as listed.
 * Returns 0, or -1 if the document is malformed, has no parts or more than
 * max_parts. Free with zkp_complete_req_free(). */
int zkp_xml_parse_complete(const char *body, size_t len, size_t max_parts, zkp_complete_req_t *out);
void zkp_complete_req_free(zkp_complete_req_t *c);

#endif
