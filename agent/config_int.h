/* Internals shared by config.c (keys and checks), config_yaml.c and config_args.c. */
#ifndef AG_CONFIG_INT_H
#define AG_CONFIG_INT_H

#include "config.h"

enum ag_key_kind { AG_KEY_SCALAR, AG_KEY_SEQ, AG_KEY_MAP };

/* Sets (scalar) or appends (sequence item) one value; on failure writes why and returns -1. */
typedef int (*ag_config_setter)(struct ag_config *c, const char *v, char *why, size_t whylen);

struct ag_config_key {
    const char *key; /* dotted path, e.g. capture.head_bytes */
    enum ag_key_kind kind;
    ag_config_setter set;
};

extern const struct ag_config_key ag_config_keys[]; /* ends with a NULL key */

struct ag_config *ag_config_defaults(void);
/* Empties a list key (watch.exe, metrics.buckets, ...) before a file or flag replaces it. */
void ag_config_clear_list(struct ag_config *c, const char *key);
/* Parses a YAML file over c; reports one line on err; 0 or -1. */
int ag_config_parse_yaml(struct ag_config *c, const char *path, FILE *err);

#endif
