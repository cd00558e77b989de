/* A deliberately broken libFuzzer target for tests/fuzz-selftest.sh: it
 * shows that scripts/check-fuzz.sh fails a run on a crash and on a UBSan
 * report.  What it does with an input depends on the "capabilities set"
 * check-fuzz.sh passes in VIR_TEST_FUZZ_CAPS, as it does to libvirt's
 * target:
 *   clean  nothing wrong, whatever the input
 *   crash  a NULL dereference on an input that starts with "BOOM"
 *   ubsan  a signed overflow (undefined, reported by UBSan, which goes on
 *          unless told to halt) on an input that starts with "UBUB"
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *mode = "clean";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *caps = getenv("VIR_TEST_FUZZ_CAPS");

    (void)argc;
    (void)argv;
    if (caps)
        mode = caps;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static volatile int *nowhere;
    volatile int big = INT_MAX;

    if (size < 4)
        return 0;
    if (strcmp(mode, "crash") == 0 && memcmp(data, "BOOM", 4) == 0)
        return *nowhere;
    if (strcmp(mode, "ubsan") == 0 && memcmp(data, "UBUB", 4) == 0)
        return big + (int)data[4 % size];
    return 0;
}
