/* vg_config: configuration from the environment. A malformed value is fatal at
 * start-up with a message naming the variable (vg_die, exit 2). */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

const char *vg_env_str(const char *name, const char *def);
long long vg_env_int(const char *name, long long def, long long min, long long max);
double vg_env_double(const char *name, double def, double min, double max);

#endif
