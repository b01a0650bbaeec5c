/* test_path.c — ZooKeeper path rules (path.h).
 * Goal: path_valid accepts and rejects exactly what PathUtils.validatePath does
 * on the server (protocol.md §11), including the UTF-16-based character ranges
 * that a C implementation sees as UTF-8 byte sequences.
 * Method: tables of literal paths; every byte sequence is written out. */
#include "test.h"

#include "path.h"

/* ---- Helpers ---- */

static bool valid(const char *p)
{
    return path_valid(p, (uint32_t)strlen(p));
}

#define ASSERT_VALID(p)                                                                            \
    do {                                                                                           \
        if (!valid(p)) FAIL("path_valid(\"%s\") = false, want true", p);                           \
    } while (0)

#define ASSERT_INVALID(p)                                                                          \
    do {                                                                                           \
        if (valid(p)) FAIL("path_valid(\"%s\") = true, want false", p);                            \
    } while (0)

/* ---- Tests ---- */

TEST(path, accepts_plain_paths)
{
    ASSERT_VALID("/");
    ASSERT_VALID("/a");
    ASSERT_VALID("/a/b");
    ASSERT_VALID("/a.b");
    ASSERT_VALID("/..a");
    ASSERT_VALID("/a..");
    ASSERT_VALID("/...");
    ASSERT_VALID("/.a/b.");
    ASSERT_VALID("/zookeeper/quota");
    ASSERT_VALID("/with space/and-dash_underscore");
    ASSERT_VALID("/0000000001");
}

TEST(path, rejects_structural_errors)
{
    ASSERT_INVALID("");
    ASSERT_INVALID("a");
    ASSERT_INVALID("a/b");
    ASSERT_INVALID("/a/");
    ASSERT_INVALID("//");
    ASSERT_INVALID("//a");
    ASSERT_INVALID("/a//b");
    ASSERT_INVALID("/.");
    ASSERT_INVALID("/..");
    ASSERT_INVALID("/a/.");
    ASSERT_INVALID("/a/..");
    ASSERT_INVALID("/a/./b");
    ASSERT_INVALID("/a/../b");
    ASSERT_FALSE(path_valid(NULL, 0));
}

TEST(path, rejects_control_characters)
{
    ASSERT_INVALID("/a\x01");
    ASSERT_INVALID("/\x1f");
    ASSERT_INVALID("/a\tb");
    ASSERT_INVALID("/a\nb");
    ASSERT_INVALID("/\x7f");
    /* U+0080 and U+009F (C1 controls) as UTF-8. */
    ASSERT_INVALID("/\xc2\x80");
    ASSERT_INVALID("/\xc2\x9f");
    /* U+00A0 is the first allowed character after them. */
    ASSERT_VALID("/\xc2\xa0");
    ASSERT_VALID("/caf\xc3\xa9"); /* "café" */
}

TEST(path, rejects_embedded_nul)
{
    static const char p[] = {'/', 'a', '\0', 'b'};
    ASSERT_FALSE(path_valid(p, sizeof(p)));
    ASSERT_TRUE(path_has_nul(p, sizeof(p)));
    ASSERT_FALSE(path_has_nul("/ab", 3));
    static const char nul_only[] = {'/', '\0'};
    ASSERT_FALSE(path_valid(nul_only, sizeof(nul_only)));
}

TEST(path, rejects_surrogate_and_private_use_range)
{
    /* U+D7FF is allowed; U+D800 .. U+F8FF are not; U+F900 is allowed again. */
    ASSERT_VALID("/\xed\x9f\xbf");   /* U+D7FF */
    ASSERT_INVALID("/\xed\xa0\x80"); /* U+D800 (a surrogate encoded as UTF-8) */
    ASSERT_INVALID("/\xed\xbf\xbf"); /* U+DFFF */
    ASSERT_INVALID("/\xee\x80\x80"); /* U+E000 */
    ASSERT_INVALID("/\xef\xa3\xbf"); /* U+F8FF */
    ASSERT_VALID("/\xef\xa4\x80");   /* U+F900 */
}

TEST(path, rejects_fff0_to_ffff)
{
    ASSERT_VALID("/\xef\xbf\xaf");   /* U+FFEF */
    ASSERT_INVALID("/\xef\xbf\xb0"); /* U+FFF0 */
    ASSERT_INVALID("/\xef\xbf\xbd"); /* U+FFFD replacement character */
    ASSERT_INVALID("/\xef\xbf\xbf"); /* U+FFFF */
}

TEST(path, rejects_characters_above_ffff)
{
    /* The Java server sees a surrogate pair and rejects it. */
    ASSERT_INVALID("/\xf0\x9f\x98\x80"); /* U+1F600 */
    ASSERT_INVALID("/a\xf0\x90\x80\x80"
                   "b");                 /* U+10000 */
    ASSERT_INVALID("/\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}

TEST(path, rejects_malformed_utf8)
{
    ASSERT_INVALID("/\x80");             /* lone continuation byte */
    ASSERT_INVALID("/\xc3");             /* truncated 2-byte sequence */
    ASSERT_INVALID("/\xc3/b");           /* truncated, followed by '/' */
    ASSERT_INVALID("/\xe2\x82");         /* truncated 3-byte sequence */
    ASSERT_INVALID("/\xc3\x28");         /* bad continuation */
    ASSERT_INVALID("/\xc0\xaf");         /* overlong '/' */
    ASSERT_INVALID("/\xc1\xbf");         /* overlong U+007F */
    ASSERT_INVALID("/\xe0\x80\xaf");     /* overlong 3-byte */
    ASSERT_INVALID("/\xf0\x80\x80\xaf"); /* overlong 4-byte */
    ASSERT_INVALID("/\xf8\x88\x80\x80\x80");
    ASSERT_INVALID("/\xff");
    ASSERT_INVALID("/\xfe");
}

TEST(path, parent_len)
{
    ASSERT_EQ_I64(path_parent_len("/a", 2), 1);
    ASSERT_EQ_I64(path_parent_len("/abc", 4), 1);
    ASSERT_EQ_I64(path_parent_len("/a/b", 4), 2);
    ASSERT_EQ_I64(path_parent_len("/ab/cd/ef", 9), 6);
    ASSERT_EQ_I64(path_parent_len("/zookeeper/config", 17), 10);
    /* Only len bytes count: parent of the prefix "/a/b" of "/a/b/c". */
    ASSERT_EQ_I64(path_parent_len("/a/b/c", 4), 2);
}

TEST(path, is_system)
{
    ASSERT_TRUE(path_is_system("/zookeeper", 10));
    ASSERT_TRUE(path_is_system("/zookeeper/quota", 16));
    ASSERT_TRUE(path_is_system("/zookeeper/config", 17));
    ASSERT_FALSE(path_is_system("/", 1));
    ASSERT_FALSE(path_is_system("/zookeeper/other", 16));
    ASSERT_FALSE(path_is_system("/zookeeperx", 11));
    ASSERT_FALSE(path_is_system("/zookeeper/quota/x", 18));
    ASSERT_FALSE(path_is_system("/zookeeper/configs", 18));
    /* Length-bounded: a prefix is not the system path. */
    ASSERT_FALSE(path_is_system("/zookeeper", 9));
}
