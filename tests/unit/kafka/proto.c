/*
 * Unit tests for the Kafka wire codec (src/kafka/wire.c, proto_*.c).
 *
 * The vectors below come from an independent implementation: a throwaway
 * generator encoded one request and one response per served (API, version)
 * with kafka-python 2.0.2's protocol classes, after checking that
 * kafka-python and a generic encoder driven by apache/kafka's message JSONs
 * produce the same bytes. Where kafka-python lacks the version or gets it
 * wrong (ListOffsets v4-5 requests: it encodes current_leader_epoch as
 * int64; FindCoordinator v1 response: it drops ThrottleTimeMs;
 * DescribeGroups v3 response: it drops AuthorizedOperations), the bytes are
 * the JSON-spec encoding. Every request decodes to the values the generator
 * used (check_* below, version-aware: absent fields hold their JSON
 * defaults) and every response struct built with the same values (build_*)
 * encodes to exactly the generator's bytes.
 *
 * Robustness: every vector truncated at every byte fails (never crashes,
 * under ASan the input is an exact-size heap copy), trailing bytes fail,
 * absurd counts and lengths fail without large allocations, an exhausted
 * arena gives CORE_ENOMEM, and a capped output buffer gives CORE_ETOOBIG
 * with the buffer restored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/proto_int.h"

#define TS_2023 1700000000000LL

/* A request body and a response body, in hex. */
typedef struct {
    int16_t key;
    int16_t version;
    const char *name;
    const char *req_hex;
    const char *resp_hex;
} vector_t;

/* clang-format off */
static const vector_t vectors[] = {
    {0, 0, "Produce", /* kafka-python */
     "ffff000075300000000200066f72646572730000000200000000000000070062617463683000000002ffffff"
     "ff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002a000000020003ffffffffffffffff"},
    {0, 1, "Produce", /* kafka-python */
     "ffff000075300000000200066f72646572730000000200000000000000070062617463683000000002ffffff"
     "ff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002a000000020003ffffffffffffffff"
     "00000005"},
    {0, 2, "Produce", /* kafka-python */
     "ffff000075300000000200066f72646572730000000200000000000000070062617463683000000002ffffff"
     "ff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000020003"
     "ffffffffffffffff000000000000007b00000005"},
    {0, 3, "Produce", /* kafka-python */
     "000574786e2d31ffff000075300000000200066f726465727300000002000000000000000700626174636830"
     "00000002ffffffff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000020003"
     "ffffffffffffffff000000000000007b00000005"},
    {0, 4, "Produce", /* kafka-python */
     "000574786e2d31ffff000075300000000200066f726465727300000002000000000000000700626174636830"
     "00000002ffffffff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000020003"
     "ffffffffffffffff000000000000007b00000005"},
    {0, 5, "Produce", /* kafka-python */
     "000574786e2d31ffff000075300000000200066f726465727300000002000000000000000700626174636830"
     "00000002ffffffff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000000000"
     "0007000000020003ffffffffffffffff000000000000007bffffffffffffffff00000005"},
    {0, 6, "Produce", /* kafka-python */
     "000574786e2d31ffff000075300000000200066f726465727300000002000000000000000700626174636830"
     "00000002ffffffff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000000000"
     "0007000000020003ffffffffffffffff000000000000007bffffffffffffffff00000005"},
    {0, 7, "Produce", /* kafka-python */
     "000574786e2d31ffff000075300000000200066f726465727300000002000000000000000700626174636830"
     "00000002ffffffff0002743200000000",
     "0000000100066f726465727300000002000000000000000000000000002affffffffffffffff000000000000"
     "0007000000020003ffffffffffffffff000000000000007bffffffffffffffff00000005"},
    {1, 4, "Fetch", /* kafka-python */
     "ffffffff000001f40000000103200000010000000100066f7264657273000000020000000000000000000000"
     "640010000000000001000000000000000500010000",
     "000000090000000100066f72646572730000000200000000000000000000000000c800000000000000c70000"
     "0001000000000000004d00000000000000960000000b5245434f524442595445530000000100010000000000"
     "0000050000000000000005ffffffff00000000"},
    {1, 5, "Fetch", /* kafka-python */
     "ffffffff000001f40000000103200000010000000100066f7264657273000000020000000000000000000000"
     "64ffffffffffffffff00100000000000010000000000000005000000000000000200010000",
     "000000090000000100066f72646572730000000200000000000000000000000000c800000000000000c70000"
     "00000000000a00000001000000000000004d00000000000000960000000b5245434f52444259544553000000"
     "010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 6, "Fetch", /* kafka-python */
     "ffffffff000001f40000000103200000010000000100066f7264657273000000020000000000000000000000"
     "64ffffffffffffffff00100000000000010000000000000005000000000000000200010000",
     "000000090000000100066f72646572730000000200000000000000000000000000c800000000000000c70000"
     "00000000000a00000001000000000000004d00000000000000960000000b5245434f52444259544553000000"
     "010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 7, "Fetch", /* kafka-python */
     "ffffffff000001f400000001032000000100000000ffffffff0000000100066f726465727300000002000000"
     "000000000000000064ffffffffffffffff001000000000000100000000000000050000000000000002000100"
     "000000000100036f6c64000000020000000100000002",
     "000000090000000000000000000100066f72646572730000000200000000000000000000000000c800000000"
     "000000c7000000000000000a00000001000000000000004d00000000000000960000000b5245434f52444259"
     "544553000000010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 8, "Fetch", /* kafka-python */
     "ffffffff000001f400000001032000000100000000ffffffff0000000100066f726465727300000002000000"
     "000000000000000064ffffffffffffffff001000000000000100000000000000050000000000000002000100"
     "000000000100036f6c64000000020000000100000002",
     "000000090000000000000000000100066f72646572730000000200000000000000000000000000c800000000"
     "000000c7000000000000000a00000001000000000000004d00000000000000960000000b5245434f52444259"
     "544553000000010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 9, "Fetch", /* kafka-python */
     "ffffffff000001f400000001032000000100000000ffffffff0000000100066f726465727300000002000000"
     "00000000030000000000000064ffffffffffffffff0010000000000001ffffffff0000000000000005000000"
     "0000000002000100000000000100036f6c64000000020000000100000002",
     "000000090000000000000000000100066f72646572730000000200000000000000000000000000c800000000"
     "000000c7000000000000000a00000001000000000000004d00000000000000960000000b5245434f52444259"
     "544553000000010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 10, "Fetch", /* kafka-python */
     "ffffffff000001f400000001032000000100000000ffffffff0000000100066f726465727300000002000000"
     "00000000030000000000000064ffffffffffffffff0010000000000001ffffffff0000000000000005000000"
     "0000000002000100000000000100036f6c64000000020000000100000002",
     "000000090000000000000000000100066f72646572730000000200000000000000000000000000c800000000"
     "000000c7000000000000000a00000001000000000000004d00000000000000960000000b5245434f52444259"
     "544553000000010001000000000000000500000000000000050000000000000000ffffffff00000000"},
    {1, 11, "Fetch", /* kafka-python */
     "ffffffff000001f400000001032000000100000000ffffffff0000000100066f726465727300000002000000"
     "00000000030000000000000064ffffffffffffffff0010000000000001ffffffff0000000000000005000000"
     "0000000002000100000000000100036f6c6400000002000000010000000200067261636b2d61",
     "000000090000000000000000000100066f72646572730000000200000000000000000000000000c800000000"
     "000000c7000000000000000a00000001000000000000004d0000000000000096ffffffff0000000b5245434f"
     "52444259544553000000010001000000000000000500000000000000050000000000000000ffffffffffffff"
     "ff00000000"},
    {2, 1, "ListOffsets", /* kafka-python */
     "ffffffff0000000100066f72646572730000000200000000ffffffffffffffff000000010000018bcfe56800",
     "0000000100066f726465727300000002000000000000ffffffffffffffff00000000000004d2000000010003"
     "ffffffffffffffffffffffffffffffff"},
    {2, 2, "ListOffsets", /* kafka-python */
     "ffffffff010000000100066f72646572730000000200000000ffffffffffffffff000000010000018bcfe568"
     "00",
     "000000040000000100066f726465727300000002000000000000ffffffffffffffff00000000000004d20000"
     "00010003ffffffffffffffffffffffffffffffff"},
    {2, 3, "ListOffsets", /* kafka-python */
     "ffffffff010000000100066f72646572730000000200000000ffffffffffffffff000000010000018bcfe568"
     "00",
     "000000040000000100066f726465727300000002000000000000ffffffffffffffff00000000000004d20000"
     "00010003ffffffffffffffffffffffffffffffff"},
    {2, 4, "ListOffsets", /* JSON spec */
     "ffffffff010000000100066f7264657273000000020000000000000002ffffffffffffffff00000001ffffff"
     "ff0000018bcfe56800",
     "000000040000000100066f726465727300000002000000000000ffffffffffffffff00000000000004d20000"
     "0000000000010003ffffffffffffffffffffffffffffffffffffffff"},
    {2, 5, "ListOffsets", /* JSON spec */
     "ffffffff010000000100066f7264657273000000020000000000000002ffffffffffffffff00000001ffffff"
     "ff0000018bcfe56800",
     "000000040000000100066f726465727300000002000000000000ffffffffffffffff00000000000004d20000"
     "0000000000010003ffffffffffffffffffffffffffffffffffffffff"},
    {3, 0, "Metadata", /* kafka-python */
     "0000000200066f726465727300027432",
     "000000020000000000093132372e302e302e310000238400000001000268310000238500000002000000066f"
     "7264657273000000020000000000000000000000000001000000000000000100000000000500000001000000"
     "010000000200000001000000000000000100000001000300076d697373696e6700000000"},
    {3, 1, "Metadata", /* kafka-python */
     "0000000200066f726465727300027432",
     "000000020000000000093132372e302e302e3100002384ffff00000001000268310000238500027231000000"
     "0000000002000000066f72646572730000000002000000000000000000000000000100000000000000010000"
     "0000000500000001000000010000000200000001000000000000000100000001000300076d697373696e6701"
     "00000000"},
    {3, 2, "Metadata", /* kafka-python */
     "0000000200066f726465727300027432",
     "000000020000000000093132372e302e302e3100002384ffff00000001000268310000238500027231000e73"
     "74726174612d636c75737465720000000000000002000000066f726465727300000000020000000000000000"
     "0000000000010000000000000001000000000005000000010000000100000002000000010000000000000001"
     "00000001000300076d697373696e670100000000"},
    {3, 3, "Metadata", /* kafka-python */
     "0000000200066f726465727300027432",
     "00000003000000020000000000093132372e302e302e3100002384ffff000000010002683100002385000272"
     "31000e7374726174612d636c75737465720000000000000002000000066f7264657273000000000200000000"
     "0000000000000000000100000000000000010000000000050000000100000001000000020000000100000000"
     "0000000100000001000300076d697373696e670100000000"},
    {3, 4, "Metadata", /* kafka-python */
     "0000000200066f72646572730002743200",
     "00000003000000020000000000093132372e302e302e3100002384ffff000000010002683100002385000272"
     "31000e7374726174612d636c75737465720000000000000002000000066f7264657273000000000200000000"
     "0000000000000000000100000000000000010000000000050000000100000001000000020000000100000000"
     "0000000100000001000300076d697373696e670100000000"},
    {3, 5, "Metadata", /* kafka-python */
     "0000000200066f72646572730002743200",
     "00000003000000020000000000093132372e302e302e3100002384ffff000000010002683100002385000272"
     "31000e7374726174612d636c75737465720000000000000002000000066f7264657273000000000200000000"
     "0000000000000000000100000000000000010000000000000000000500000001000000010000000200000001"
     "0000000000000001000000010000000100000000000300076d697373696e670100000000"},
    {3, 6, "Metadata", /* JSON spec */
     "0000000200066f72646572730002743200",
     "00000003000000020000000000093132372e302e302e3100002384ffff000000010002683100002385000272"
     "31000e7374726174612d636c75737465720000000000000002000000066f7264657273000000000200000000"
     "0000000000000000000100000000000000010000000000000000000500000001000000010000000200000001"
     "0000000000000001000000010000000100000000000300076d697373696e670100000000"},
    {3, 7, "Metadata", /* JSON spec */
     "0000000200066f72646572730002743200",
     "00000003000000020000000000093132372e302e302e3100002384ffff000000010002683100002385000272"
     "31000e7374726174612d636c75737465720000000000000002000000066f7264657273000000000200000000"
     "0000000000000000000000000001000000000000000100000000000000000005000000010000000100000004"
     "00000002000000010000000000000001000000010000000100000000000300076d697373696e670100000000"},
    {8, 0, "OffsetCommit", /* kafka-python */
     "000267310000000100066f72646572730000000200000000000000000000006400046d657461000000010000"
     "000000000007ffff",
     "0000000100066f72646572730000000200000000000000000001000c"},
    {8, 1, "OffsetCommit", /* kafka-python */
     "000267310000000500036d2d310000000100066f726465727300000002000000000000000000000064000001"
     "8bcfe5680000046d657461000000010000000000000007ffffffffffffffffffff",
     "0000000100066f72646572730000000200000000000000000001000c"},
    {8, 2, "OffsetCommit", /* kafka-python */
     "000267310000000500036d2d310000000005265c000000000100066f72646572730000000200000000000000"
     "000000006400046d657461000000010000000000000007ffff",
     "0000000100066f72646572730000000200000000000000000001000c"},
    {8, 3, "OffsetCommit", /* kafka-python */
     "000267310000000500036d2d310000000005265c000000000100066f72646572730000000200000000000000"
     "000000006400046d657461000000010000000000000007ffff",
     "000000020000000100066f72646572730000000200000000000000000001000c"},
    {8, 4, "OffsetCommit", /* JSON spec */
     "000267310000000500036d2d310000000005265c000000000100066f72646572730000000200000000000000"
     "000000006400046d657461000000010000000000000007ffff",
     "000000020000000100066f72646572730000000200000000000000000001000c"},
    {8, 5, "OffsetCommit", /* JSON spec */
     "000267310000000500036d2d310000000100066f72646572730000000200000000000000000000006400046d"
     "657461000000010000000000000007ffff",
     "000000020000000100066f72646572730000000200000000000000000001000c"},
    {8, 6, "OffsetCommit", /* JSON spec */
     "000267310000000500036d2d310000000100066f726465727300000002000000000000000000000064000000"
     "0200046d657461000000010000000000000007ffffffffffff",
     "000000020000000100066f72646572730000000200000000000000000001000c"},
    {8, 7, "OffsetCommit", /* JSON spec */
     "000267310000000500036d2d31ffff0000000100066f72646572730000000200000000000000000000006400"
     "00000200046d657461000000010000000000000007ffffffffffff",
     "000000020000000100066f72646572730000000200000000000000000001000c"},
    {9, 1, "OffsetFetch", /* kafka-python */
     "000267310000000100066f7264657273000000020000000000000001",
     "0000000100066f72646572730000000200000000000000000000006400046d657461000000000001ffffffff"
     "ffffffff00000000"},
    {9, 2, "OffsetFetch", /* kafka-python */
     "000267310000000100066f7264657273000000020000000000000001",
     "0000000100066f72646572730000000200000000000000000000006400046d657461000000000001ffffffff"
     "ffffffff00000000000f"},
    {9, 3, "OffsetFetch", /* kafka-python */
     "000267310000000100066f7264657273000000020000000000000001",
     "000000010000000100066f72646572730000000200000000000000000000006400046d657461000000000001"
     "ffffffffffffffff00000000000f"},
    {9, 4, "OffsetFetch", /* JSON spec */
     "000267310000000100066f7264657273000000020000000000000001",
     "000000010000000100066f72646572730000000200000000000000000000006400046d657461000000000001"
     "ffffffffffffffff00000000000f"},
    {9, 5, "OffsetFetch", /* JSON spec */
     "000267310000000100066f7264657273000000020000000000000001",
     "000000010000000100066f7264657273000000020000000000000000000000640000000200046d6574610000"
     "00000001ffffffffffffffffffffffff00000000000f"},
    {10, 0, "FindCoordinator", /* kafka-python */
     "00026731",
     "00000000000000093132372e302e302e3100002384"},
    {10, 1, "FindCoordinator", /* kafka-python */
     "0002673100",
     "000000060000ffff0000000000093132372e302e302e3100002384"},
    {10, 2, "FindCoordinator", /* JSON spec */
     "0002673100",
     "000000060000ffff0000000000093132372e302e302e3100002384"},
    {11, 0, "JoinGroup", /* kafka-python */
     "000267310000271000000008636f6e73756d657200000002000572616e67650000000e00000000000100066f"
     "7264657273000a726f756e64726f62696e000000027272",
     "000000000001000572616e676500036d2d3100036d2d310000000200036d2d31000000056d6574613100036d"
     "2d3200000000"},
    {11, 1, "JoinGroup", /* kafka-python */
     "0002673100002710000493e000000008636f6e73756d657200000002000572616e67650000000e0000000000"
     "0100066f7264657273000a726f756e64726f62696e000000027272",
     "000000000001000572616e676500036d2d3100036d2d310000000200036d2d31000000056d6574613100036d"
     "2d3200000000"},
    {11, 2, "JoinGroup", /* kafka-python */
     "0002673100002710000493e000000008636f6e73756d657200000002000572616e67650000000e0000000000"
     "0100066f7264657273000a726f756e64726f62696e000000027272",
     "00000008000000000001000572616e676500036d2d3100036d2d310000000200036d2d31000000056d657461"
     "3100036d2d3200000000"},
    {11, 3, "JoinGroup", /* JSON spec */
     "0002673100002710000493e000000008636f6e73756d657200000002000572616e67650000000e0000000000"
     "0100066f7264657273000a726f756e64726f62696e000000027272",
     "00000008000000000001000572616e676500036d2d3100036d2d310000000200036d2d31000000056d657461"
     "3100036d2d3200000000"},
    {11, 4, "JoinGroup", /* JSON spec */
     "0002673100002710000493e000000008636f6e73756d657200000002000572616e67650000000e0000000000"
     "0100066f7264657273000a726f756e64726f62696e000000027272",
     "00000008000000000001000572616e676500036d2d3100036d2d310000000200036d2d31000000056d657461"
     "3100036d2d3200000000"},
    {11, 5, "JoinGroup", /* JSON spec */
     "0002673100002710000493e00000ffff0008636f6e73756d657200000002000572616e67650000000e000000"
     "00000100066f7264657273000a726f756e64726f62696e000000027272",
     "00000008000000000001000572616e676500036d2d3100036d2d310000000200036d2d31ffff000000056d65"
     "74613100036d2d320006696e73742d3200000000"},
    {12, 0, "Heartbeat", /* kafka-python */
     "000267310000000100036d2d31",
     "001b"},
    {12, 1, "Heartbeat", /* kafka-python */
     "000267310000000100036d2d31",
     "00000007001b"},
    {12, 2, "Heartbeat", /* JSON spec */
     "000267310000000100036d2d31",
     "00000007001b"},
    {12, 3, "Heartbeat", /* JSON spec */
     "000267310000000100036d2d310006696e73742d31",
     "00000007001b"},
    {13, 0, "LeaveGroup", /* kafka-python */
     "0002673100036d2d31",
     "0000"},
    {13, 1, "LeaveGroup", /* kafka-python */
     "0002673100036d2d31",
     "000000010000"},
    {13, 2, "LeaveGroup", /* JSON spec */
     "0002673100036d2d31",
     "000000010000"},
    {13, 3, "LeaveGroup", /* JSON spec */
     "000267310000000200036d2d31ffff00036d2d320006696e73742d32",
     "0000000100000000000200036d2d31ffff000000036d2d320006696e73742d320019"},
    {14, 0, "SyncGroup", /* kafka-python */
     "000267310000000100036d2d310000000200036d2d31000000046173673100036d2d3200000000",
     "00000000000a000000000000ffffffff"},
    {14, 1, "SyncGroup", /* kafka-python */
     "000267310000000100036d2d310000000200036d2d31000000046173673100036d2d3200000000",
     "0000000200000000000a000000000000ffffffff"},
    {14, 2, "SyncGroup", /* JSON spec */
     "000267310000000100036d2d310000000200036d2d31000000046173673100036d2d3200000000",
     "0000000200000000000a000000000000ffffffff"},
    {14, 3, "SyncGroup", /* JSON spec */
     "000267310000000100036d2d31ffff0000000200036d2d31000000046173673100036d2d3200000000",
     "0000000200000000000a000000000000ffffffff"},
    {15, 0, "DescribeGroups", /* kafka-python */
     "000000020002673100026732",
     "000000020000000267310006537461626c650008636f6e73756d6572000572616e67650000000100036d2d31"
     "00026331000a2f3132372e302e302e31000000026d6400000002617300450002673200044465616400000000"
     "00000000"},
    {15, 1, "DescribeGroups", /* kafka-python */
     "000000020002673100026732",
     "00000003000000020000000267310006537461626c650008636f6e73756d6572000572616e67650000000100"
     "036d2d3100026331000a2f3132372e302e302e31000000026d64000000026173004500026732000444656164"
     "0000000000000000"},
    {15, 2, "DescribeGroups", /* kafka-python */
     "000000020002673100026732",
     "00000003000000020000000267310006537461626c650008636f6e73756d6572000572616e67650000000100"
     "036d2d3100026331000a2f3132372e302e302e31000000026d64000000026173004500026732000444656164"
     "0000000000000000"},
    {15, 3, "DescribeGroups", /* kafka-python */
     "00000002000267310002673201",
     "00000003000000020000000267310006537461626c650008636f6e73756d6572000572616e67650000000100"
     "036d2d3100026331000a2f3132372e302e302e31000000026d64000000026173800000000045000267320004"
     "44656164000000000000000000000000"},
    {15, 4, "DescribeGroups", /* JSON spec */
     "00000002000267310002673201",
     "00000003000000020000000267310006537461626c650008636f6e73756d6572000572616e67650000000100"
     "036d2d31ffff00026331000a2f3132372e302e302e31000000026d6400000002617380000000004500026732"
     "000444656164000000000000000000000000"},
    {16, 0, "ListGroups", /* kafka-python */
     "",
     "000000000002000267310008636f6e73756d6572000267320000"},
    {16, 1, "ListGroups", /* kafka-python */
     "",
     "00000001000000000002000267310008636f6e73756d6572000267320000"},
    {16, 2, "ListGroups", /* kafka-python */
     "",
     "00000001000000000002000267310008636f6e73756d6572000267320000"},
    {18, 0, "ApiVersions", /* kafka-python */
     "",
     "00000000001100000000000700010004000b000200010005000300000007000800000007000900010005000a"
     "00000002000b00000005000c00000003000d00000003000e00000003000f0000000400100000000200120000"
     "0003001300000004001400000003001600000001"},
    {18, 1, "ApiVersions", /* kafka-python */
     "",
     "00000000001100000000000700010004000b000200010005000300000007000800000007000900010005000a"
     "00000002000b00000005000c00000003000d00000003000e00000003000f0000000400100000000200120000"
     "000300130000000400140000000300160000000100000000"},
    {18, 2, "ApiVersions", /* kafka-python */
     "",
     "00000000001100000000000700010004000b000200010005000300000007000800000007000900010005000a"
     "00000002000b00000005000c00000003000d00000003000e00000003000f0000000400100000000200120000"
     "000300130000000400140000000300160000000100000000"},
    {18, 3, "ApiVersions", /* JSON spec */
     "0c7374726174612d7465737404312e3000",
     "0000120000000000070000010004000b00000200010005000003000000070000080000000700000900010005"
     "00000a0000000200000b0000000500000c0000000300000d0000000300000e0000000300000f000000040000"
     "100000000200001200000003000013000000040000140000000300001600000001000000000000"},
    {19, 0, "CreateTopics", /* kafka-python */
     "0000000200036e65770000000300010000000000000002000c726574656e74696f6e2e6d7300043130303000"
     "0e636c65616e75702e706f6c696379ffff00036b6a73ffffffffffff00000001000000000000000200000000"
     "000000010000000000001388",
     "0000000200036e6577000000036b6a730024"},
    {19, 1, "CreateTopics", /* kafka-python */
     "0000000200036e65770000000300010000000000000002000c726574656e74696f6e2e6d7300043130303000"
     "0e636c65616e75702e706f6c696379ffff00036b6a73ffffffffffff00000001000000000000000200000000"
     "00000001000000000000138801",
     "0000000200036e65770000ffff00036b6a7300240006657869737473"},
    {19, 2, "CreateTopics", /* kafka-python */
     "0000000200036e65770000000300010000000000000002000c726574656e74696f6e2e6d7300043130303000"
     "0e636c65616e75702e706f6c696379ffff00036b6a73ffffffffffff00000001000000000000000200000000"
     "00000001000000000000138801",
     "000000020000000200036e65770000ffff00036b6a7300240006657869737473"},
    {19, 3, "CreateTopics", /* kafka-python */
     "0000000200036e65770000000300010000000000000002000c726574656e74696f6e2e6d7300043130303000"
     "0e636c65616e75702e706f6c696379ffff00036b6a73ffffffffffff00000001000000000000000200000000"
     "00000001000000000000138801",
     "000000020000000200036e65770000ffff00036b6a7300240006657869737473"},
    {19, 4, "CreateTopics", /* JSON spec */
     "0000000200036e65770000000300010000000000000002000c726574656e74696f6e2e6d7300043130303000"
     "0e636c65616e75702e706f6c696379ffff00036b6a73ffffffffffff00000001000000000000000200000000"
     "00000001000000000000138801",
     "000000020000000200036e65770000ffff00036b6a7300240006657869737473"},
    {20, 0, "DeleteTopics", /* kafka-python */
     "0000000200016100016200001388",
     "0000000200016100000001620003"},
    {20, 1, "DeleteTopics", /* kafka-python */
     "0000000200016100016200001388",
     "000000010000000200016100000001620003"},
    {20, 2, "DeleteTopics", /* kafka-python */
     "0000000200016100016200001388",
     "000000010000000200016100000001620003"},
    {20, 3, "DeleteTopics", /* kafka-python */
     "0000000200016100016200001388",
     "000000010000000200016100000001620003"},
    {22, 0, "InitProducerId", /* JSON spec */
     "ffff0000ea60",
     "00000003000000000000000003e80000"},
    {22, 1, "InitProducerId", /* JSON spec */
     "ffff0000ea60",
     "00000003000000000000000003e80000"},
};
/* clang-format on */

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */
static core_arena_t *arena;

static int setup(void **state)
{
    (void)state;
    arena = core_arena_create(CORE_MEM_TEST, 4096, 1u << 20);
    return arena == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    core_arena_destroy(arena);
    return 0;
}

/* s == NULL expects a null view. */
static void assert_str(kafka_bytes_t b, const char *s)
{
    if (s == NULL) {
        assert_int_equal(b.len, -1);
        return;
    }
    assert_int_equal(b.len, (int32_t)strlen(s));
    if (b.len > 0)
        assert_memory_equal(b.p, s, (size_t)b.len);
}

static void assert_mem(kafka_bytes_t b, const void *p, size_t n)
{
    assert_int_equal(b.len, (int32_t)n);
    if (n > 0)
        assert_memory_equal(b.p, p, n);
}

#define S(s) kafka_bytes_cstr(s)
#define B(s) kafka_bytes_of((s), sizeof(s) - 1)

/* Bytes from hex, in an exact-size heap block (so ASan sees overreads);
 * the caller frees it. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    *len = n;
    return out;
}

/* Decodes `len` bytes from an exact-size heap copy (so ASan sees overreads)
 * as the body of (key, version). */
static int decode_copy(int16_t key, int16_t version, const void *p, size_t len,
                       kafka_request_body_t *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, p, len);
    kafka_rd_t r;
    kafka_rd_init(&r, copy, len);
    core_arena_reset(arena);
    int rc = kafka_decode_request_body(&r, key, version, arena, out);
    free(copy);
    return rc;
}

/* ------------------------------------------------------------------------
 * Decoded requests: the generator's values, version by version.
 * ------------------------------------------------------------------------ */
static void check_produce(const kafka_produce_req_t *q, int16_t v)
{
    assert_str(q->transactional_id, v >= 3 ? "txn-1" : NULL);
    assert_int_equal(q->acks, -1);
    assert_int_equal(q->timeout_ms, 30000);
    assert_int_equal(q->n_topics, 2);
    assert_str(q->topics[0].name, "orders");
    assert_int_equal(q->topics[0].n_partitions, 2);
    assert_int_equal(q->topics[0].partitions[0].partition, 0);
    assert_mem(q->topics[0].partitions[0].records, "\0batch0", 7);
    assert_int_equal(q->topics[0].partitions[1].partition, 2);
    assert_int_equal(q->topics[0].partitions[1].records.len, -1);
    assert_str(q->topics[1].name, "t2");
    assert_int_equal(q->topics[1].n_partitions, 0);
}

static void check_fetch(const kafka_fetch_req_t *q, int16_t v)
{
    assert_int_equal(q->replica_id, -1);
    assert_int_equal(q->max_wait_ms, 500);
    assert_int_equal(q->min_bytes, 1);
    assert_int_equal(q->max_bytes, 52428800);
    assert_int_equal(q->isolation_level, 1);
    assert_int_equal(q->session_id, 0);
    assert_int_equal(q->session_epoch, -1);
    assert_int_equal(q->n_topics, 1);
    assert_str(q->topics[0].topic, "orders");
    assert_int_equal(q->topics[0].n_partitions, 2);
    const kafka_fetch_req_part_t *p = q->topics[0].partitions;
    assert_int_equal(p[0].partition, 0);
    assert_int_equal(p[0].current_leader_epoch, v >= 9 ? 3 : -1);
    assert_int_equal(p[0].fetch_offset, 100);
    assert_int_equal(p[0].log_start_offset, -1);
    assert_int_equal(p[0].partition_max_bytes, 1048576);
    assert_int_equal(p[1].partition, 1);
    assert_int_equal(p[1].current_leader_epoch, -1);
    assert_int_equal(p[1].fetch_offset, 5);
    assert_int_equal(p[1].log_start_offset, v >= 5 ? 2 : -1);
    assert_int_equal(p[1].partition_max_bytes, 65536);
    if (v >= 7) {
        assert_int_equal(q->n_forgotten, 1);
        assert_str(q->forgotten[0].topic, "old");
        assert_int_equal(q->forgotten[0].n_partitions, 2);
        assert_int_equal(q->forgotten[0].partitions[0], 1);
        assert_int_equal(q->forgotten[0].partitions[1], 2);
    } else {
        assert_int_equal(q->n_forgotten, 0);
    }
    assert_str(q->rack_id, v >= 11 ? "rack-a" : "");
}

static void check_list_offsets(const kafka_list_offsets_req_t *q, int16_t v)
{
    assert_int_equal(q->replica_id, -1);
    assert_int_equal(q->isolation_level, v >= 2 ? 1 : 0);
    assert_int_equal(q->n_topics, 1);
    assert_str(q->topics[0].name, "orders");
    assert_int_equal(q->topics[0].n_partitions, 2);
    const kafka_list_offsets_req_part_t *p = q->topics[0].partitions;
    assert_int_equal(p[0].partition, 0);
    assert_int_equal(p[0].current_leader_epoch, v >= 4 ? 2 : -1);
    assert_int_equal(p[0].timestamp, -1);
    assert_int_equal(p[1].partition, 1);
    assert_int_equal(p[1].current_leader_epoch, -1);
    assert_int_equal(p[1].timestamp, TS_2023);
}

static void check_metadata(const kafka_metadata_req_t *q, int16_t v)
{
    assert_int_equal(q->n_topics, 2);
    assert_str(q->topics[0], "orders");
    assert_str(q->topics[1], "t2");
    assert_int_equal(q->allow_auto_topic_creation, v < 4);
}

static void check_offset_commit(const kafka_offset_commit_req_t *q, int16_t v)
{
    assert_str(q->group_id, "g1");
    assert_int_equal(q->generation_id, v >= 1 ? 5 : -1);
    assert_str(q->member_id, v >= 1 ? "m-1" : "");
    assert_str(q->group_instance_id, NULL);
    assert_int_equal(q->retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1);
    assert_int_equal(q->n_topics, 1);
    assert_str(q->topics[0].name, "orders");
    assert_int_equal(q->topics[0].n_partitions, 2);
    const kafka_offset_commit_req_part_t *p = q->topics[0].partitions;
    assert_int_equal(p[0].partition, 0);
    assert_int_equal(p[0].committed_offset, 100);
    assert_int_equal(p[0].committed_leader_epoch, v >= 6 ? 2 : -1);
    assert_int_equal(p[0].commit_timestamp, v == 1 ? TS_2023 : -1);
    assert_str(p[0].committed_metadata, "meta");
    assert_int_equal(p[1].partition, 1);
    assert_int_equal(p[1].committed_offset, 7);
    assert_int_equal(p[1].committed_leader_epoch, -1);
    assert_int_equal(p[1].commit_timestamp, -1);
    assert_str(p[1].committed_metadata, NULL);
}

static void check_offset_fetch(const kafka_offset_fetch_req_t *q, int16_t v)
{
    (void)v;
    assert_str(q->group_id, "g1");
    assert_int_equal(q->n_topics, 1);
    assert_str(q->topics[0].name, "orders");
    assert_int_equal(q->topics[0].n_partitions, 2);
    assert_int_equal(q->topics[0].partitions[0], 0);
    assert_int_equal(q->topics[0].partitions[1], 1);
}

static void check_find_coordinator(const kafka_find_coordinator_req_t *q, int16_t v)
{
    (void)v;
    assert_str(q->key, "g1");
    assert_int_equal(q->key_type, 0);
}

static void check_join_group(const kafka_join_group_req_t *q, int16_t v)
{
    assert_str(q->group_id, "g1");
    assert_int_equal(q->session_timeout_ms, 10000);
    assert_int_equal(q->rebalance_timeout_ms, v >= 1 ? 300000 : 10000);
    assert_str(q->member_id, "");
    assert_str(q->group_instance_id, NULL);
    assert_str(q->protocol_type, "consumer");
    assert_int_equal(q->n_protocols, 2);
    assert_str(q->protocols[0].name, "range");
    assert_mem(q->protocols[0].metadata, "\0\0\0\0\0\1\0\6orders", 14);
    assert_str(q->protocols[1].name, "roundrobin");
    assert_str(q->protocols[1].metadata, "rr");
}

static void check_heartbeat(const kafka_heartbeat_req_t *q, int16_t v)
{
    assert_str(q->group_id, "g1");
    assert_int_equal(q->generation_id, 1);
    assert_str(q->member_id, "m-1");
    assert_str(q->group_instance_id, v >= 3 ? "inst-1" : NULL);
}

static void check_leave_group(const kafka_leave_group_req_t *q, int16_t v)
{
    assert_str(q->group_id, "g1");
    assert_str(q->member_id, v <= 2 ? "m-1" : "");
    assert_int_equal(q->n_members, v <= 2 ? 1 : 2);
    assert_str(q->members[0].member_id, "m-1");
    assert_str(q->members[0].group_instance_id, NULL);
    if (v >= 3) {
        assert_str(q->members[1].member_id, "m-2");
        assert_str(q->members[1].group_instance_id, "inst-2");
    }
}

static void check_sync_group(const kafka_sync_group_req_t *q, int16_t v)
{
    (void)v;
    assert_str(q->group_id, "g1");
    assert_int_equal(q->generation_id, 1);
    assert_str(q->member_id, "m-1");
    assert_str(q->group_instance_id, NULL);
    assert_int_equal(q->n_assignments, 2);
    assert_str(q->assignments[0].member_id, "m-1");
    assert_str(q->assignments[0].assignment, "asg1");
    assert_str(q->assignments[1].member_id, "m-2");
    assert_str(q->assignments[1].assignment, "");
}

static void check_describe_groups(const kafka_describe_groups_req_t *q, int16_t v)
{
    assert_int_equal(q->n_groups, 2);
    assert_str(q->groups[0], "g1");
    assert_str(q->groups[1], "g2");
    assert_int_equal(q->include_authorized_operations, v >= 3);
}

static void check_api_versions(const kafka_api_versions_req_t *q, int16_t v)
{
    assert_str(q->client_software_name, v >= 3 ? "strata-test" : "");
    assert_str(q->client_software_version, v >= 3 ? "1.0" : "");
}

static void check_create_topics(const kafka_create_topics_req_t *q, int16_t v)
{
    assert_int_equal(q->n_topics, 2);
    const kafka_create_topics_req_topic_t *t = q->topics;
    assert_str(t[0].name, "new");
    assert_int_equal(t[0].num_partitions, 3);
    assert_int_equal(t[0].replication_factor, 1);
    assert_int_equal(t[0].n_assignments, 0);
    assert_int_equal(t[0].n_configs, 2);
    assert_str(t[0].configs[0].name, "retention.ms");
    assert_str(t[0].configs[0].value, "1000");
    assert_str(t[0].configs[1].name, "cleanup.policy");
    assert_str(t[0].configs[1].value, NULL);
    assert_str(t[1].name, "kjs");
    assert_int_equal(t[1].num_partitions, -1);
    assert_int_equal(t[1].replication_factor, -1);
    assert_int_equal(t[1].n_assignments, 1);
    assert_int_equal(t[1].assignments[0].partition, 0);
    assert_int_equal(t[1].assignments[0].n_broker_ids, 2);
    assert_int_equal(t[1].assignments[0].broker_ids[0], 0);
    assert_int_equal(t[1].assignments[0].broker_ids[1], 1);
    assert_int_equal(t[1].n_configs, 0);
    assert_int_equal(q->timeout_ms, 5000);
    assert_int_equal(q->validate_only, v >= 1);
}

static void check_delete_topics(const kafka_delete_topics_req_t *q, int16_t v)
{
    (void)v;
    assert_int_equal(q->n_topic_names, 2);
    assert_str(q->topic_names[0], "a");
    assert_str(q->topic_names[1], "b");
    assert_int_equal(q->timeout_ms, 5000);
}

static void check_init_producer_id(const kafka_init_producer_id_req_t *q, int16_t v)
{
    (void)v;
    assert_str(q->transactional_id, NULL);
    assert_int_equal(q->transaction_timeout_ms, 60000);
}

static void check_request(int16_t key, int16_t v, const kafka_request_body_t *b)
{
    switch (key) {
    case KAFKA_API_PRODUCE:
        check_produce(&b->produce, v);
        break;
    case KAFKA_API_FETCH:
        check_fetch(&b->fetch, v);
        break;
    case KAFKA_API_LIST_OFFSETS:
        check_list_offsets(&b->list_offsets, v);
        break;
    case KAFKA_API_METADATA:
        check_metadata(&b->metadata, v);
        break;
    case KAFKA_API_OFFSET_COMMIT:
        check_offset_commit(&b->offset_commit, v);
        break;
    case KAFKA_API_OFFSET_FETCH:
        check_offset_fetch(&b->offset_fetch, v);
        break;
    case KAFKA_API_FIND_COORDINATOR:
        check_find_coordinator(&b->find_coordinator, v);
        break;
    case KAFKA_API_JOIN_GROUP:
        check_join_group(&b->join_group, v);
        break;
    case KAFKA_API_HEARTBEAT:
        check_heartbeat(&b->heartbeat, v);
        break;
    case KAFKA_API_LEAVE_GROUP:
        check_leave_group(&b->leave_group, v);
        break;
    case KAFKA_API_SYNC_GROUP:
        check_sync_group(&b->sync_group, v);
        break;
    case KAFKA_API_DESCRIBE_GROUPS:
        check_describe_groups(&b->describe_groups, v);
        break;
    case KAFKA_API_LIST_GROUPS:
        break;
    case KAFKA_API_API_VERSIONS:
        check_api_versions(&b->api_versions, v);
        break;
    case KAFKA_API_CREATE_TOPICS:
        check_create_topics(&b->create_topics, v);
        break;
    case KAFKA_API_DELETE_TOPICS:
        check_delete_topics(&b->delete_topics, v);
        break;
    case KAFKA_API_INIT_PRODUCER_ID:
        check_init_producer_id(&b->init_producer_id, v);
        break;
    default:
        fail_msg("no check for api key %d", key);
    }
}

/* ------------------------------------------------------------------------
 * Responses: the generator's values, encoded for one version.
 * ------------------------------------------------------------------------ */
static int encode_produce(core_buf_t *out, int16_t v)
{
    static const kafka_produce_resp_part_t parts[] = {
        {.partition = 0,
         .error_code = 0,
         .base_offset = 42,
         .log_append_time_ms = -1,
         .log_start_offset = 7},
        {.partition = 2,
         .error_code = 3,
         .base_offset = -1,
         .log_append_time_ms = 123,
         .log_start_offset = -1},
    };
    kafka_produce_resp_topic_t topic = {S("orders"), parts, 2};
    kafka_produce_resp_t resp = {.topics = &topic, .n_topics = 1, .throttle_time_ms = 5};
    return kafka_encode_produce_resp(out, v, &resp);
}

static int encode_fetch(core_buf_t *out, int16_t v)
{
    static const kafka_fetch_aborted_txn_t aborted[] = {{77, 150}};
    kafka_fetch_resp_part_t parts[] = {
        {.partition = 0,
         .high_watermark = 200,
         .last_stable_offset = 199,
         .log_start_offset = 10,
         .aborted = aborted,
         .n_aborted = 1,
         .preferred_read_replica = -1,
         .records = B("RECORDBYTES")},
        /* null records and a null aborted list: records must go out as
         * zero-length, never -1 */
        {.partition = 1,
         .error_code = 1,
         .high_watermark = 5,
         .last_stable_offset = 5,
         .log_start_offset = 0,
         .n_aborted = -1,
         .preferred_read_replica = -1,
         .records = KAFKA_NULL_BYTES},
    };
    kafka_fetch_resp_topic_t topic = {S("orders"), parts, 2};
    kafka_fetch_resp_t resp = {.throttle_time_ms = 9, .topics = &topic, .n_topics = 1};
    return kafka_encode_fetch_resp(out, v, &resp);
}

static int encode_list_offsets(core_buf_t *out, int16_t v)
{
    static const kafka_list_offsets_resp_part_t parts[] = {
        {.partition = 0, .error_code = 0, .timestamp = -1, .offset = 1234, .leader_epoch = 0},
        {.partition = 1, .error_code = 3, .timestamp = -1, .offset = -1, .leader_epoch = -1},
    };
    kafka_list_offsets_resp_topic_t topic = {S("orders"), parts, 2};
    kafka_list_offsets_resp_t resp = {.throttle_time_ms = 4, .topics = &topic, .n_topics = 1};
    return kafka_encode_list_offsets_resp(out, v, &resp);
}

static int encode_metadata(core_buf_t *out, int16_t v)
{
    static const int32_t r0[] = {0}, r10[] = {1, 0}, r1[] = {1};
    kafka_metadata_resp_broker_t brokers[] = {
        {0, S("127.0.0.1"), 9092, KAFKA_NULL_BYTES},
        {1, S("h1"), 9093, S("r1")},
    };
    kafka_metadata_resp_part_t parts[] = {
        {.partition = 0,
         .leader_id = 0,
         .leader_epoch = 0,
         .replicas = r0,
         .n_replicas = 1,
         .isr = r0,
         .n_isr = 1},
        {.error_code = 5,
         .partition = 1,
         .leader_id = 1,
         .leader_epoch = 4,
         .replicas = r10,
         .n_replicas = 2,
         .isr = r1,
         .n_isr = 1,
         .offline_replicas = r0,
         .n_offline_replicas = 1},
    };
    kafka_metadata_resp_topic_t topics[] = {
        {0, S("orders"), false, parts, 2},
        {3, S("missing"), true, NULL, 0},
    };
    kafka_metadata_resp_t resp = {.throttle_time_ms = 3,
                                  .brokers = brokers,
                                  .n_brokers = 2,
                                  .cluster_id = S("strata-cluster"),
                                  .controller_id = 0,
                                  .topics = topics,
                                  .n_topics = 2};
    return kafka_encode_metadata_resp(out, v, &resp);
}

static int encode_offset_commit(core_buf_t *out, int16_t v)
{
    static const kafka_offset_commit_resp_part_t parts[] = {{0, 0}, {1, 12}};
    kafka_offset_commit_resp_topic_t topic = {S("orders"), parts, 2};
    kafka_offset_commit_resp_t resp = {.throttle_time_ms = 2, .topics = &topic, .n_topics = 1};
    return kafka_encode_offset_commit_resp(out, v, &resp);
}

static int encode_offset_fetch(core_buf_t *out, int16_t v)
{
    kafka_offset_fetch_resp_part_t parts[] = {
        {0, 100, 2, S("meta"), 0},
        {1, -1, -1, S(""), 0},
    };
    kafka_offset_fetch_resp_topic_t topic = {S("orders"), parts, 2};
    kafka_offset_fetch_resp_t resp = {
        .throttle_time_ms = 1, .topics = &topic, .n_topics = 1, .error_code = 15};
    return kafka_encode_offset_fetch_resp(out, v, &resp);
}

static int encode_find_coordinator(core_buf_t *out, int16_t v)
{
    kafka_find_coordinator_resp_t resp = {.throttle_time_ms = 6,
                                          .error_message = KAFKA_NULL_BYTES,
                                          .node_id = 0,
                                          .host = S("127.0.0.1"),
                                          .port = 9092};
    return kafka_encode_find_coordinator_resp(out, v, &resp);
}

static int encode_join_group(core_buf_t *out, int16_t v)
{
    kafka_join_group_resp_member_t members[] = {
        {S("m-1"), KAFKA_NULL_BYTES, B("meta1")},
        {S("m-2"), S("inst-2"), S("")},
    };
    kafka_join_group_resp_t resp = {.throttle_time_ms = 8,
                                    .generation_id = 1,
                                    .protocol_name = S("range"),
                                    .leader = S("m-1"),
                                    .member_id = S("m-1"),
                                    .members = members,
                                    .n_members = 2};
    return kafka_encode_join_group_resp(out, v, &resp);
}

static int encode_heartbeat(core_buf_t *out, int16_t v)
{
    kafka_heartbeat_resp_t resp = {.throttle_time_ms = 7, .error_code = 27};
    return kafka_encode_heartbeat_resp(out, v, &resp);
}

static int encode_leave_group(core_buf_t *out, int16_t v)
{
    kafka_leave_group_resp_member_t members[] = {
        {S("m-1"), KAFKA_NULL_BYTES, 0},
        {S("m-2"), S("inst-2"), 25},
    };
    kafka_leave_group_resp_t resp = {.throttle_time_ms = 1, .members = members, .n_members = 2};
    return kafka_encode_leave_group_resp(out, v, &resp);
}

static int encode_sync_group(core_buf_t *out, int16_t v)
{
    kafka_sync_group_resp_t resp = {.throttle_time_ms = 2,
                                    .assignment = B("\0\0\0\0\0\0\xff\xff\xff\xff")};
    return kafka_encode_sync_group_resp(out, v, &resp);
}

static int encode_describe_groups(core_buf_t *out, int16_t v)
{
    kafka_describe_groups_resp_member_t members[] = {
        {S("m-1"), KAFKA_NULL_BYTES, S("c1"), S("/127.0.0.1"), B("md"), B("as")},
    };
    kafka_describe_groups_resp_group_t groups[] = {
        {0, S("g1"), S("Stable"), S("consumer"), S("range"), members, 1, INT32_MIN},
        {69, S("g2"), S("Dead"), S(""), S(""), NULL, 0, 0},
    };
    kafka_describe_groups_resp_t resp = {.throttle_time_ms = 3, .groups = groups, .n_groups = 2};
    return kafka_encode_describe_groups_resp(out, v, &resp);
}

static int encode_list_groups(core_buf_t *out, int16_t v)
{
    kafka_list_groups_resp_group_t groups[] = {{S("g1"), S("consumer")}, {S("g2"), S("")}};
    kafka_list_groups_resp_t resp = {.throttle_time_ms = 1, .groups = groups, .n_groups = 2};
    return kafka_encode_list_groups_resp(out, v, &resp);
}

static int encode_api_versions(core_buf_t *out, int16_t v)
{
    kafka_api_versions_resp_t resp = {0}; /* NULL table = kafka_apis */
    return kafka_encode_api_versions_resp(out, v, &resp);
}

static int encode_create_topics(core_buf_t *out, int16_t v)
{
    kafka_create_topics_resp_topic_t topics[] = {
        {S("new"), 0, KAFKA_NULL_BYTES},
        {S("kjs"), 36, S("exists")},
    };
    kafka_create_topics_resp_t resp = {.throttle_time_ms = 2, .topics = topics, .n_topics = 2};
    return kafka_encode_create_topics_resp(out, v, &resp);
}

static int encode_delete_topics(core_buf_t *out, int16_t v)
{
    kafka_delete_topics_resp_topic_t topics[] = {{S("a"), 0}, {S("b"), 3}};
    kafka_delete_topics_resp_t resp = {
        .throttle_time_ms = 1, .responses = topics, .n_responses = 2};
    return kafka_encode_delete_topics_resp(out, v, &resp);
}

static int encode_init_producer_id(core_buf_t *out, int16_t v)
{
    kafka_init_producer_id_resp_t resp = {3, 0, 1000, 0};
    return kafka_encode_init_producer_id_resp(out, v, &resp);
}

static int encode_response(core_buf_t *out, int16_t key, int16_t v)
{
    switch (key) {
    case KAFKA_API_PRODUCE:
        return encode_produce(out, v);
    case KAFKA_API_FETCH:
        return encode_fetch(out, v);
    case KAFKA_API_LIST_OFFSETS:
        return encode_list_offsets(out, v);
    case KAFKA_API_METADATA:
        return encode_metadata(out, v);
    case KAFKA_API_OFFSET_COMMIT:
        return encode_offset_commit(out, v);
    case KAFKA_API_OFFSET_FETCH:
        return encode_offset_fetch(out, v);
    case KAFKA_API_FIND_COORDINATOR:
        return encode_find_coordinator(out, v);
    case KAFKA_API_JOIN_GROUP:
        return encode_join_group(out, v);
    case KAFKA_API_HEARTBEAT:
        return encode_heartbeat(out, v);
    case KAFKA_API_LEAVE_GROUP:
        return encode_leave_group(out, v);
    case KAFKA_API_SYNC_GROUP:
        return encode_sync_group(out, v);
    case KAFKA_API_DESCRIBE_GROUPS:
        return encode_describe_groups(out, v);
    case KAFKA_API_LIST_GROUPS:
        return encode_list_groups(out, v);
    case KAFKA_API_API_VERSIONS:
        return encode_api_versions(out, v);
    case KAFKA_API_CREATE_TOPICS:
        return encode_create_topics(out, v);
    case KAFKA_API_DELETE_TOPICS:
        return encode_delete_topics(out, v);
    case KAFKA_API_INIT_PRODUCER_ID:
        return encode_init_producer_id(out, v);
    default:
        fail_msg("no encoder for api key %d", key);
        return -1;
    }
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */
static void test_api_table_is_the_advertised_one(void **state)
{
    (void)state;
    static const int16_t want[][3] = {
        {0, 0, 7},  {1, 4, 11}, {2, 1, 5},  {3, 0, 7},  {8, 0, 7},  {9, 1, 5},
        {10, 0, 2}, {11, 0, 5}, {12, 0, 3}, {13, 0, 3}, {14, 0, 3}, {15, 0, 4},
        {16, 0, 2}, {18, 0, 3}, {19, 0, 4}, {20, 0, 3}, {22, 0, 1},
    };
    assert_int_equal(kafka_apis_count, (int32_t)CORE_ARRAY_LEN(want));
    for (size_t i = 0; i < CORE_ARRAY_LEN(want); i++) {
        assert_int_equal(kafka_apis[i].api_key, want[i][0]);
        assert_int_equal(kafka_apis[i].min_version, want[i][1]);
        assert_int_equal(kafka_apis[i].max_version, want[i][2]);
    }
    assert_true(kafka_api_supported(KAFKA_API_FETCH, 4));
    assert_false(kafka_api_supported(KAFKA_API_FETCH, 3));
    assert_false(kafka_api_supported(KAFKA_API_FETCH, 12));
    assert_false(kafka_api_supported(17, 0));
    assert_null(kafka_api_info(17));
    /* Only ApiVersions v3 is flexible within the served ranges. */
    for (int32_t i = 0; i < kafka_apis_count; i++) {
        const kafka_api_info_t *a = &kafka_apis[i];
        for (int16_t v = a->min_version; v <= a->max_version; v++)
            assert_int_equal(kafka_api_flexible(a->api_key, v),
                             a->api_key == KAFKA_API_API_VERSIONS && v == 3);
    }
    assert_true(kafka_api_flexible(KAFKA_API_API_VERSIONS, 4));
    assert_true(kafka_api_flexible(KAFKA_API_PRODUCE, 9));
    assert_false(kafka_api_flexible(KAFKA_API_PRODUCE, 8));
    assert_false(kafka_api_flexible(99, 30));
}

static void test_vectors_cover_every_served_version(void **state)
{
    (void)state;
    size_t n = 0;
    for (int32_t i = 0; i < kafka_apis_count; i++) {
        const kafka_api_info_t *a = &kafka_apis[i];
        for (int16_t v = a->min_version; v <= a->max_version; v++) {
            bool found = false;
            for (size_t j = 0; j < CORE_ARRAY_LEN(vectors); j++)
                found |= vectors[j].key == a->api_key && vectors[j].version == v;
            if (!found)
                fail_msg("no vector for %s v%d", a->name, v);
            n++;
        }
    }
    assert_int_equal(n, CORE_ARRAY_LEN(vectors));
}

static void test_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(vectors); i++) {
        const vector_t *t = &vectors[i];
        size_t len;
        uint8_t *req = unhex(t->req_hex, &len);
        kafka_request_body_t body;
        kafka_rd_t r;
        kafka_rd_init(&r, req, len);
        core_arena_reset(arena);
        int rc = kafka_decode_request_body(&r, t->key, t->version, arena, &body);
        if (rc != 0)
            fail_msg("%s v%d: %s", t->name, t->version, core_error_detail());
        check_request(t->key, t->version, &body);
        free(req);
    }
}

static void test_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(vectors); i++) {
        const vector_t *t = &vectors[i];
        size_t want_len;
        uint8_t *want = unhex(t->resp_hex, &want_len);
        core_buf_t out;
        core_buf_init(&out, CORE_MEM_TEST, 1u << 20);
        int rc = encode_response(&out, t->key, t->version);
        if (rc != 0)
            fail_msg("%s v%d: %s", t->name, t->version, core_error_detail());
        for (size_t k = 0; k < CORE_MIN(out.len, want_len); k++) {
            if (out.data[k] != want[k])
                fail_msg("%s v%d response: byte %zu is %02x, want %02x", t->name, t->version, k,
                         out.data[k], want[k]);
        }
        if (out.len != want_len)
            fail_msg("%s v%d response: %zu bytes, want %zu", t->name, t->version, out.len,
                     want_len);
        core_buf_fini(&out);
        free(want);
    }
}

static void test_truncated_requests_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(vectors); i++) {
        const vector_t *t = &vectors[i];
        size_t full;
        uint8_t *req = unhex(t->req_hex, &full);
        for (size_t len = 0; len < full; len++) {
            kafka_request_body_t body;
            int rc = decode_copy(t->key, t->version, req, len, &body);
            if (rc != CORE_ETRUNC && rc != CORE_ECORRUPT)
                fail_msg("%s v%d cut at %zu: rc %d", t->name, t->version, len, rc);
        }
        free(req);
    }
}

static void test_trailing_bytes_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(vectors); i++) {
        const vector_t *t = &vectors[i];
        size_t len;
        uint8_t *req = unhex(t->req_hex, &len);
        uint8_t *buf = malloc(len + 1);
        assert_non_null(buf);
        memcpy(buf, req, len);
        buf[len] = 0;
        kafka_request_body_t body;
        assert_int_equal(decode_copy(t->key, t->version, buf, len + 1, &body), CORE_ECORRUPT);
        assert_non_null(strstr(core_error_detail(), "trailing"));
        free(buf);
        free(req);
    }
}

static void test_request_header_v1(void **state)
{
    (void)state;
    /* Metadata v1, correlation 7, client "kcat", then a body byte. */
    static const uint8_t f[] = {0, 3, 0, 1, 0, 0, 0, 7, 0, 4, 'k', 'c', 'a', 't', 0xAB};
    kafka_rd_t r;
    kafka_req_header_t h;
    kafka_rd_init(&r, f, sizeof(f));
    assert_int_equal(kafka_decode_request_header(&r, &h), 0);
    assert_int_equal(h.api_key, 3);
    assert_int_equal(h.api_version, 1);
    assert_int_equal(h.correlation_id, 7);
    assert_str(h.client_id, "kcat");
    assert_false(h.flexible);
    assert_int_equal(kafka_rd_remaining(&r), 1);

    /* null client id */
    static const uint8_t g[] = {0, 18, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff};
    kafka_rd_init(&r, g, sizeof(g));
    assert_int_equal(kafka_decode_request_header(&r, &h), 0);
    assert_int_equal(h.correlation_id, INT32_MAX);
    assert_str(h.client_id, NULL);
    assert_int_equal(kafka_rd_remaining(&r), 0);
}

static void test_request_header_v2_skips_tags(void **state)
{
    (void)state;
    /* ApiVersions v3: header v2 with client id (i16 length, not compact)
     * and two tagged fields, then a body with compact strings and a tagged
     * field of its own. */
    static const uint8_t f[] = {
        0,   18,  0,   3,    0,    0,   0, 42,  0,   7,   'r', 'd',
        'k', 'a', 'f', 'k',  'a',                                   /* header */
        2,   0,   1,   0xEE, 5,    3,   1, 2,   3,                  /* 2 tags */
        6,   'l', 'i', 'b',  'r',  'd', 6, '2', '.', '0', '.', '2', /* body */
        1,   9,   2,   0xAA, 0xBB,                                  /* 1 tag */
    };
    kafka_rd_t r;
    kafka_req_header_t h;
    kafka_rd_init(&r, f, sizeof(f));
    assert_int_equal(kafka_decode_request_header(&r, &h), 0);
    assert_true(h.flexible);
    assert_int_equal(h.correlation_id, 42);
    assert_str(h.client_id, "rdkafka");
    kafka_api_versions_req_t q;
    assert_int_equal(kafka_decode_api_versions_req(&r, 3, arena, &q), 0);
    assert_str(q.client_software_name, "librd");
    assert_str(q.client_software_version, "2.0.2");

    /* A tag whose size runs past the end is truncation. */
    static const uint8_t g[] = {0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 1, 0, 9, 1};
    kafka_rd_init(&r, g, sizeof(g));
    assert_int_equal(kafka_decode_request_header(&r, &h), CORE_ETRUNC);
    assert_non_null(strstr(core_error_detail(), "tag_data"));

    /* An unsupported-but-flexible ApiVersions (v4) header still parses. */
    static const uint8_t k[] = {0, 18, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 2};
    kafka_rd_init(&r, k, sizeof(k));
    assert_int_equal(kafka_decode_request_header(&r, &h), 0);
    assert_int_equal(kafka_rd_remaining(&r), 2);
    assert_int_equal(kafka_api_check(h.api_key, h.api_version), CORE_EUNSUPP);
}

static void test_request_header_truncated(void **state)
{
    (void)state;
    static const uint8_t f[] = {0, 3, 0, 1, 0, 0, 0, 7, 0, 4, 'k', 'c', 'a', 't'};
    for (size_t len = 0; len < sizeof(f); len++) {
        uint8_t *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, f, len);
        kafka_rd_t r;
        kafka_req_header_t h;
        kafka_rd_init(&r, copy, len);
        assert_int_equal(kafka_decode_request_header(&r, &h), CORE_ETRUNC);
        free(copy);
    }
}

static void test_response_header(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 64);
    /* ApiVersions v3 is flexible, but its response header is v0. */
    assert_int_equal(kafka_encode_response_header(&b, 0x01020304, KAFKA_API_API_VERSIONS, 3), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "\x01\x02\x03\x04", 4);
    core_buf_reset(&b);
    assert_int_equal(kafka_encode_response_header(&b, 5, KAFKA_API_METADATA, 7), 0);
    assert_int_equal(b.len, 4);
    core_buf_reset(&b);
    /* A flexible version of another API gets header v1 (a tag byte). */
    assert_int_equal(kafka_encode_response_header(&b, 5, KAFKA_API_METADATA, 9), 0);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.data[4], 0);
    core_buf_fini(&b);
}

static void test_api_versions_v3_response_layout(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    static const kafka_api_info_t two[] = {{0, 0, 7, 9, "Produce"}, {18, 0, 3, 3, "ApiVersions"}};
    kafka_api_versions_resp_t resp = {
        .error_code = 0, .apis = two, .n_apis = 2, .throttle_time_ms = 0x11223344};
    assert_int_equal(kafka_encode_api_versions_resp(&b, 3, &resp), 0);
    static const uint8_t want[] = {0,  0, 3, 0, 0, 0, 0,    0,    7,    0,    0,
                                   18, 0, 0, 0, 3, 0, 0x11, 0x22, 0x33, 0x44, 0};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    /* The UNSUPPORTED_VERSION answer: a v0 body, error 35, full table. */
    core_buf_reset(&b);
    kafka_api_versions_resp_t err = {.error_code = KAFKA_ERR_UNSUPPORTED_VERSION};
    assert_int_equal(kafka_encode_api_versions_resp(&b, 0, &err), 0);
    assert_int_equal(b.len, 2 + 4 + 6 * (size_t)kafka_apis_count);
    assert_int_equal(core_load_be16(b.data), 35);
    assert_int_equal(core_load_be32(b.data + 2), (uint32_t)kafka_apis_count);
    core_buf_fini(&b);
}

static void test_fetch_null_records_are_zero_length(void **state)
{
    (void)state;
    kafka_fetch_resp_part_t part = {
        .partition = 3, .n_aborted = 0, .preferred_read_replica = -1, .records = KAFKA_NULL_BYTES};
    kafka_fetch_resp_topic_t topic = {S("t"), &part, 1};
    kafka_fetch_resp_t resp = {.topics = &topic, .n_topics = 1};
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(kafka_encode_fetch_resp(&b, 4, &resp), 0);
    /* throttle 4, topics 4, name 2+1, parts 4, partition 4, error 2, hw 8,
     * lso 8, aborted 4 (empty), records size 4 = 0 */
    assert_int_equal(b.len, 4 + 4 + 3 + 4 + 4 + 2 + 8 + 8 + 4 + 4);
    assert_int_equal(core_load_be32(b.data + b.len - 4), 0);
    assert_int_equal(core_load_be32(b.data + b.len - 8), 0); /* aborted: empty, not null */
    core_buf_fini(&b);
}

static void test_null_arrays(void **state)
{
    (void)state;
    kafka_request_body_t body;
    static const uint8_t null_array[] = {0xff, 0xff, 0xff, 0xff};
    /* Metadata: null = all topics from v1; v0 arrays are not nullable. */
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 1, null_array, 4, &body), 0);
    assert_int_equal(body.metadata.n_topics, -1);
    assert_null(body.metadata.topics);
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 0, null_array, 4, &body), CORE_ECORRUPT);
    static const uint8_t empty_array[] = {0, 0, 0, 0};
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 0, empty_array, 4, &body), 0);
    assert_int_equal(body.metadata.n_topics, 0);
    /* v4: null array + allow_auto_topic_creation */
    static const uint8_t v4[] = {0xff, 0xff, 0xff, 0xff, 1};
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 4, v4, 5, &body), 0);
    assert_int_equal(body.metadata.n_topics, -1);
    assert_true(body.metadata.allow_auto_topic_creation);

    /* OffsetFetch: null topics = all, from v2. */
    static const uint8_t of[] = {0, 2, 'g', '1', 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_copy(KAFKA_API_OFFSET_FETCH, 2, of, sizeof(of), &body), 0);
    assert_int_equal(body.offset_fetch.n_topics, -1);
    assert_int_equal(decode_copy(KAFKA_API_OFFSET_FETCH, 1, of, sizeof(of), &body), CORE_ECORRUPT);

    /* A null non-nullable string (group id). */
    static const uint8_t hb[] = {0xff, 0xff, 0, 0, 0, 1, 0, 0};
    assert_int_equal(decode_copy(KAFKA_API_HEARTBEAT, 0, hb, sizeof(hb), &body), CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "group_id"));
}

static void test_absurd_counts_fail_without_allocating(void **state)
{
    (void)state;
    kafka_request_body_t body;
    /* Produce v3: null txn id, acks 1, timeout, topic count INT32_MAX. */
    static const uint8_t p[] = {0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(decode_copy(KAFKA_API_PRODUCE, 3, p, sizeof(p), &body), CORE_ECORRUPT);
    assert_int_equal(core_arena_used(arena), 0);
    assert_non_null(strstr(core_error_detail(), "topic_data"));

    /* A count that would fit only if elements were 1 byte: 1 topic with a
     * partition count of 2 but 15 bytes left (each partition needs 8+). */
    static const uint8_t q[] = {0xff, 0xff, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 't', 0, 0,
                                0,    2,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   0, 0};
    assert_int_equal(decode_copy(KAFKA_API_PRODUCE, 3, q, sizeof(q), &body), CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "partition_data"));

    /* Negative counts other than -1, and lengths past the end. */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 1, neg, 4, &body), CORE_ECORRUPT);
    static const uint8_t longstr[] = {0, 0, 0, 1, 0x7f, 0xff, 'x'};
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 1, longstr, sizeof(longstr), &body),
                     CORE_ETRUNC);
    static const uint8_t negstr[] = {0, 0, 0, 1, 0xff, 0xfe};
    assert_int_equal(decode_copy(KAFKA_API_METADATA, 1, negstr, sizeof(negstr), &body),
                     CORE_ECORRUPT);
    /* Produce records length INT32_MAX. */
    static const uint8_t rec[] = {0xff, 0xff, 0, 1, 0, 0, 0, 1, 0, 0,    0,    1,    0,   1,
                                  't',  0,    0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(decode_copy(KAFKA_API_PRODUCE, 3, rec, sizeof(rec), &body), CORE_ETRUNC);
    assert_non_null(strstr(core_error_detail(), "records"));
}

static void test_compact_forms(void **state)
{
    (void)state;
    kafka_rd_t r;
    /* compact array count with N+1 = 2^32-1 and only a few bytes left */
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2};
    kafka_rd_init(&r, big, sizeof(big));
    assert_int_equal(kafka_rd_carray(&r, 1, "a"), 0);
    assert_int_equal(r.err, CORE_ECORRUPT);
    /* a 6-byte uvarint is corrupt, a cut one is truncated */
    static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    kafka_rd_init(&r, six, sizeof(six));
    assert_int_equal(kafka_rd_uvarint(&r, "v"), 0);
    assert_int_equal(r.err, CORE_ECORRUPT);
    kafka_rd_init(&r, six, 3);
    kafka_rd_uvarint(&r, "v");
    assert_int_equal(r.err, CORE_ETRUNC);
    /* null and empty compact strings; a compact string over 32767 */
    static const uint8_t s[] = {0, 1, 3, 'h', 'i'};
    kafka_rd_init(&r, s, sizeof(s));
    assert_str(kafka_rd_cnstring(&r, "a"), NULL);
    assert_str(kafka_rd_cstring(&r, "b"), "");
    assert_str(kafka_rd_cstring(&r, "c"), "hi");
    assert_int_equal(kafka_rd_finish(&r, "test", 0), 0);
    static const uint8_t n[] = {0};
    kafka_rd_init(&r, n, sizeof(n));
    kafka_rd_cstring(&r, "nonnull");
    assert_int_equal(r.err, CORE_ECORRUPT);
    static const uint8_t huge[] = {0x81, 0x80, 0x02}; /* 32769 - 1 */
    kafka_rd_init(&r, huge, sizeof(huge));
    kafka_rd_cstring(&r, "huge");
    assert_int_equal(r.err, CORE_ECORRUPT);

    /* the writer's compact forms */
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1024);
    kafka_wr_t w;
    kafka_wr_init(&w, &b);
    kafka_wr_cnstring(&w, KAFKA_NULL_BYTES);
    kafka_wr_cstring(&w, KAFKA_NULL_BYTES);
    kafka_wr_cstring(&w, S("hi"));
    kafka_wr_cnarray(&w, -1);
    kafka_wr_carray(&w, 200);
    kafka_wr_uvarint(&w, 300);
    kafka_wr_cnbytes(&w, B("\x01"));
    kafka_wr_tags(&w);
    assert_int_equal(kafka_wr_finish(&w), 0);
    static const uint8_t want[] = {0, 1, 3, 'h', 'i', 0, 0xc9, 0x01, 0xac, 0x02, 2, 1, 0};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    core_buf_fini(&b);
}

static void test_reader_error_is_sticky(void **state)
{
    (void)state;
    static const uint8_t f[] = {0, 1, 0, 0, 0, 2, 9};
    kafka_rd_t r;
    kafka_rd_init(&r, f, sizeof(f));
    assert_int_equal(kafka_rd_i16(&r, "a"), 1);
    assert_int_equal(kafka_rd_i32(&r, "b"), 2);
    assert_int_equal(kafka_rd_i16(&r, "c"), 0); /* one byte left */
    assert_int_equal(r.err, CORE_ETRUNC);
    assert_string_equal(r.field, "c");
    assert_int_equal(kafka_rd_i8(&r, "d"), 0); /* would fit, but sticky */
    assert_string_equal(r.field, "c");
    assert_int_equal(kafka_rd_remaining(&r), 1);
    kafka_bytes_t v = kafka_rd_nstring(&r, "e");
    assert_int_equal(v.len, 0);
    assert_int_equal(kafka_rd_finish(&r, "Test", 2), CORE_ETRUNC);
    assert_non_null(strstr(core_error_detail(), "Test v2: field c at byte 6"));
}

static void test_arena_exhaustion_is_enomem(void **state)
{
    (void)state;
    core_arena_t *tiny = core_arena_create(CORE_MEM_TEST, 64, 64);
    assert_non_null(tiny);
    /* DeleteTopics with 40 one-letter names: 40 * 16 bytes of views. */
    uint8_t f[4 + 40 * 3 + 4];
    core_store_be32(f, 40);
    for (int i = 0; i < 40; i++) {
        f[4 + 3 * i] = 0;
        f[5 + 3 * i] = 1;
        f[6 + 3 * i] = (uint8_t)('a' + i % 26);
    }
    core_store_be32(f + 4 + 120, 1000);
    kafka_rd_t r;
    kafka_delete_topics_req_t q;
    kafka_rd_init(&r, f, sizeof(f));
    assert_int_equal(kafka_decode_delete_topics_req(&r, 0, tiny, &q), CORE_ENOMEM);
    core_arena_destroy(tiny);
    kafka_rd_init(&r, f, sizeof(f));
    core_arena_reset(arena);
    assert_int_equal(kafka_decode_delete_topics_req(&r, 0, arena, &q), 0);
    assert_int_equal(q.n_topic_names, 40);
    assert_int_equal(q.timeout_ms, 1000);
}

static void test_unsupported_versions(void **state)
{
    (void)state;
    kafka_request_body_t body;
    assert_int_equal(decode_copy(KAFKA_API_FETCH, 3, "", 0, &body), CORE_EUNSUPP);
    assert_int_equal(decode_copy(KAFKA_API_FETCH, 12, "", 0, &body), CORE_EUNSUPP);
    assert_int_equal(decode_copy(KAFKA_API_API_VERSIONS, 4, "", 0, &body), CORE_EUNSUPP);
    assert_int_equal(decode_copy(17, 0, "", 0, &body), CORE_EUNSUPP);
    assert_int_equal(decode_copy(-1, 0, "", 0, &body), CORE_EUNSUPP);
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1024);
    kafka_heartbeat_resp_t hb = {0};
    assert_int_equal(kafka_encode_heartbeat_resp(&b, 4, &hb), CORE_EUNSUPP);
    assert_int_equal(b.len, 0);
    core_buf_fini(&b);
}

static void test_encode_cap_restores_buffer(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 40);
    assert_int_equal(kafka_encode_response_header(&b, 9, KAFKA_API_METADATA, 1), 0);
    assert_int_equal(encode_metadata(&b, 1), CORE_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_int_equal(core_load_be32(b.data), 9);
    core_buf_fini(&b);
    /* a string too long for an i16 length */
    static char big[40000];
    memset(big, 'x', sizeof(big));
    core_buf_init(&b, CORE_MEM_TEST, 1u << 20);
    kafka_find_coordinator_resp_t fc = {.host = kafka_bytes_of(big, sizeof(big))};
    assert_int_equal(kafka_encode_find_coordinator_resp(&b, 0, &fc), CORE_EINVAL);
    assert_int_equal(b.len, 0);
    core_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_table_is_the_advertised_one),
        cmocka_unit_test(test_vectors_cover_every_served_version),
        cmocka_unit_test(test_vectors_decode),
        cmocka_unit_test(test_vectors_encode),
        cmocka_unit_test(test_truncated_requests_fail),
        cmocka_unit_test(test_trailing_bytes_fail),
        cmocka_unit_test(test_request_header_v1),
        cmocka_unit_test(test_request_header_v2_skips_tags),
        cmocka_unit_test(test_request_header_truncated),
        cmocka_unit_test(test_response_header),
        cmocka_unit_test(test_api_versions_v3_response_layout),
        cmocka_unit_test(test_fetch_null_records_are_zero_length),
        cmocka_unit_test(test_null_arrays),
        cmocka_unit_test(test_absurd_counts_fail_without_allocating),
        cmocka_unit_test(test_compact_forms),
        cmocka_unit_test(test_reader_error_is_sticky),
        cmocka_unit_test(test_arena_exhaustion_is_enomem),
        cmocka_unit_test(test_unsupported_versions),
        cmocka_unit_test(test_encode_cap_restores_buffer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
