/* libFuzzer target: configured route patterns (agent/proto/route_pattern.c) over arbitrary paths.
 * Input: lines; every line but the last is a candidate pattern (those ag_route_pattern_check
 * accepts are compiled), the last is the path. The route must be NUL-terminated, as long as
 * returned, and either one of the compiled patterns or the built-in folding of the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "proto/route_pattern.h"

#define MAX_PATTERNS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pats[MAX_PATTERNS];
    struct ag_route_patterns *rp = NULL;
    char *text = malloc(size + 1), *line, *path;
    char out[320], folded[320];
    size_t n = 0;
    int len, flen;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    path = text;
    for (line = text; (path = strchr(line, '\n')) != NULL; line = path + 1) {
        *path = '\0';
        if (n < MAX_PATTERNS && !ag_route_pattern_check(line))
            pats[n++] = line;
    }
    path = line;
    if (ag_route_patterns_compile(pats, n, &rp, NULL) != 0)
        abort(); /* every pattern passed the check */
    len = ag_route_match(rp, path, out, (size_t)(data[0] % 2 ? sizeof(out) : 1 + size % 64));
    if (len >= 0) {
        int known = 0;

        if (strlen(out) != (size_t)len)
            abort();
        for (size_t i = 0; i < n; i++)
            known |= strcmp(out, pats[i]) == 0;
        flen = ag_route_fold(path, folded, sizeof(folded));
        if (!known && (flen != len || strcmp(out, folded) != 0))
            abort();
    } else if (out[0] != '\0') {
        abort();
    }
    ag_route_patterns_free(rp);
    free(text);
    return 0;
}
