#include "vg_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "vg_log.h"

/* An empty variable counts as unset: `VIGIL_PORT= make up` should mean the default. */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

const char *vg_env_str(const char *name, const char *def)
{
    const char *v = env_value(name);

    return v ? v : def;
}

long long vg_env_int(const char *name, long long def, long long min, long long max)
{
    const char *v = env_value(name);
    char *end;
    long long n;

    if (!v)
        return def;
    errno = 0;
    n = strtoll(v, &end, 10);
    /* strtoll skips leading blanks; a value with them is still malformed. */
    if (errno || end == v || *end || isspace((unsigned char)*v) || n < min || n > max)
        vg_die("%s: not an integer in %lld..%lld: '%s'", name, min, max, v);
    return n;
}

double vg_env_double(const char *name, double def, double min, double max)
{
    const char *v = env_value(name);
    char *end;
    double d;

    if (!v)
        return def;
    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || isspace((unsigned char)*v) || !isfinite(d) || d < min ||
        d > max)
        vg_die("%s: not a number in %g..%g: '%s'", name, min, max, v);
    return d;
}
