/* The object file's head (backend/fs/objfile.h): what one read brings
 * along, and every check that a short read must not skip: a torn file, a
 * file longer than its head says, a head larger than the first read, a
 * header that is not an object's. */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/fs/objfile.h"
#include "harness.h"

static char dir[] = "/tmp/zkp-objfile-XXXXXX";

/* Writes an object file of `size` body bytes ('a' + i % 26) for `key`
 * with one metadata header of hdr_len bytes (0: none); returns its fd,
 * opened for reading, and its body offset in *off. */
static int make_object(const char *name, const char *key, size_t size, size_t hdr_len,
                       uint64_t *off)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    zkp_obj_meta_t m;
    memset(&m, 0, sizeof(m));
    m.size = size;
    m.mtime = 1700000000;
    memcpy(m.etag, "0123456789abcdef0123456789abcdef", 33);
    if (hdr_len > 0) {
        char *v = malloc(hdr_len + 1);
        memset(v, 'v', hdr_len);
        v[hdr_len] = '\0';
        CU_ASSERT_EQUAL_FATAL(zkp_obj_meta_add(&m, "x-amz-meta-big", v), 0);
        free(v);
    }
    CU_ASSERT_EQUAL_FATAL(zkp_objfile_write_head(fd, key, &m, NULL, off), 0);
    char *body = malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    CU_ASSERT_EQUAL_FATAL(pwrite(fd, body, size, (off_t)*off), (ssize_t)size);
    free(body);
    zkp_obj_meta_free(&m);
    return fd;
}

static int body_ok(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)('a' + i % 26))
            return 0;
    return 1;
}

/* Reads the head with a buffer of cap bytes; 0 or -1, *have the body bytes
 * that came with it, checked against what was written. */
static int read_head(int fd, size_t cap, size_t *have, zkp_obj_meta_t *m, uint64_t *off)
{
    unsigned char *buf = malloc(cap);
    char *key = NULL;
    int rc = zkp_objfile_read_head_buf(fd, &key, m, NULL, off, buf, cap, have);
    if (rc == 0) {
        CU_ASSERT_STRING_EQUAL(key, "bucket-key");
        CU_ASSERT(body_ok(buf, *have));
    }
    free(key);
    free(buf);
    return rc;
}

static void test_small_object_in_one_read(void)
{
    uint64_t off, off2;
    int fd = make_object("small", "bucket-key", 4096, 0, &off);
    zkp_obj_meta_t m;
    size_t have = 0;
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), 0);
    CU_ASSERT_EQUAL(off2, off);
    CU_ASSERT_EQUAL(have, 4096); /* the whole body came with the head */
    CU_ASSERT_EQUAL(m.size, 4096);
    CU_ASSERT_EQUAL(m.mtime, 1700000000);
    CU_ASSERT_STRING_EQUAL(m.etag, "0123456789abcdef0123456789abcdef");
    zkp_obj_meta_free(&m);
    /* A buffer as large as the file exactly: the read fills it, so the
     * length is checked with fstat, and still agrees. */
    CU_ASSERT_EQUAL(read_head(fd, (size_t)off + 4096, &have, &m, &off2), 0);
    CU_ASSERT_EQUAL(have, 4096);
    zkp_obj_meta_free(&m);
    /* Without a buffer: the head only. */
    char *key = NULL;
    CU_ASSERT_EQUAL(zkp_objfile_read_head(fd, &key, &m, NULL, &off2), 0);
    CU_ASSERT_STRING_EQUAL(key, "bucket-key");
    free(key);
    zkp_obj_meta_free(&m);
    close(fd);
}

static void test_large_object_part_of_body(void)
{
    uint64_t off, off2;
    int fd = make_object("large", "bucket-key", 100000, 0, &off);
    zkp_obj_meta_t m;
    size_t have = 0;
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), 0);
    CU_ASSERT_EQUAL(have, 8192 - off); /* what fit after the head */
    CU_ASSERT_EQUAL(m.size, 100000);
    zkp_obj_meta_free(&m);
    close(fd);
}

static void test_head_larger_than_first_read(void)
{
    uint64_t off, off2;
    int fd = make_object("bighead", "bucket-key", 10, 20000, &off);
    CU_ASSERT(off > 8192);
    zkp_obj_meta_t m;
    size_t have = 7;
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), 0);
    CU_ASSERT_EQUAL(off2, off);
    CU_ASSERT_EQUAL(have, 0);
    CU_ASSERT_EQUAL(m.nheaders, 1);
    CU_ASSERT(m.nheaders == 1 && strlen(m.headers[0].value) == 20000);
    zkp_obj_meta_free(&m);
    close(fd);
}

static void test_torn_and_long_files_refused(void)
{
    uint64_t off, off2;
    zkp_obj_meta_t m;
    size_t have;
    /* Torn: the body is a byte short; in the first read, and beyond it. */
    size_t sizes[] = {4096, 100000};
    for (size_t i = 0; i < 2; i++) {
        int fd = make_object("torn", "bucket-key", sizes[i], 0, &off);
        CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)(off + sizes[i] - 1)), 0);
        CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), -1);
        CU_ASSERT_EQUAL(read_head(fd, 4096, &have, &m, &off2), -1);
        /* Longer than its head says. */
        CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)(off + sizes[i] + 1)), 0);
        CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), -1);
        CU_ASSERT_EQUAL(read_head(fd, 4096, &have, &m, &off2), -1);
        close(fd);
    }
    /* Torn inside the head: shorter than the preamble, and mid-records. */
    int fd = make_object("tornhead", "bucket-key", 10, 20000, &off);
    CU_ASSERT_EQUAL_FATAL(ftruncate(fd, 5000), 0);
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), -1);
    CU_ASSERT_EQUAL_FATAL(ftruncate(fd, 30), 0);
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), -1);
    close(fd);
    /* Not an object file at all. */
    char path[256];
    snprintf(path, sizeof(path), "%s/junk", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char junk[200];
    memset(junk, 'Z', sizeof(junk));
    CU_ASSERT_EQUAL_FATAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    CU_ASSERT_EQUAL(read_head(fd, 8192, &have, &m, &off2), -1);
    close(fd);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "small_object_in_one_read", test_small_object_in_one_read);
    CU_add_test(suite, "large_object_part_of_body", test_large_object_part_of_body);
    CU_add_test(suite, "head_larger_than_first_read", test_head_larger_than_first_read);
    CU_add_test(suite, "torn_and_long_files_refused", test_torn_and_long_files_refused);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    int rc = pt_run_suite("proxy_objfile_unit", add_tests);
    const char *names[] = {"small", "large", "bighead", "torn", "tornhead", "junk"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
