/* The YAML side of ag_config: walks a libyaml document against the key table. */
#include <errno.h>
#include <string.h>
#include <yaml.h>

#include "config_int.h"

struct walk {
    struct ag_config *conf;
    yaml_document_t *doc;
    const char *path;
    FILE *err;
    bool seen[64];    /* per ag_config_keys index: duplicate keys are errors */
    size_t mode_line; /* where watch.mode was set, 0 if not */
};

static const struct ag_config_key *find_key(const char *key, size_t *index)
{
    for (size_t i = 0; ag_config_keys[i].key; i++)
        if (strcmp(ag_config_keys[i].key, key) == 0) {
            *index = i;
            return &ag_config_keys[i];
        }
    return NULL;
}

static int report(struct walk *w, const yaml_node_t *node, const char *key, const char *why,
                  const char *value)
{
    fprintf(w->err, "vigil-agent: %s:%zu: %s: %s", w->path, node->start_mark.line + 1, key, why);
    if (value)
        fprintf(w->err, ": '%s'", value);
    fputc('\n', w->err);
    return -1;
}

static int set_scalar(struct walk *w, const struct ag_config_key *k, const yaml_node_t *node)
{
    char why[160];
    const char *v = (const char *)node->data.scalar.value;
    if (node->type != YAML_SCALAR_NODE)
        return report(w, node, k->key, "not a single value", NULL);
    if (k->set(w->conf, v, why, sizeof(why)) < 0)
        return report(w, node, k->key, why, v);
    return 0;
}

static int set_seq(struct walk *w, const struct ag_config_key *k, const yaml_node_t *node)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return report(w, node, k->key, "not a list", NULL);
    /* The file's list replaces the default one (metrics.buckets) rather than extending it. */
    ag_config_clear_list(w->conf, k->key);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, *it);
        if (!item || item->type != YAML_SCALAR_NODE)
            return report(w, item ? item : node, k->key, "not a list of single values", NULL);
        if (set_scalar(w, k, item) < 0)
            return -1;
    }
    if (strcmp(k->key, "metrics.buckets") == 0 && w->conf->nbuckets == 0)
        return report(w, node, k->key, "empty list", NULL);
    return 0;
}

static int walk_map(struct walk *w, const yaml_node_t *map, const char *prefix)
{
    if (map->type != YAML_MAPPING_NODE)
        return report(w, map, prefix ? prefix : "(top)", "not a mapping of keys", NULL);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
            return report(w, kn ? kn : map, prefix ? prefix : "(top)", "key is not a name", NULL);
        char key[128];
        snprintf(key, sizeof(key), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
                 (const char *)kn->data.scalar.value);
        size_t idx = 0;
        const struct ag_config_key *k = find_key(key, &idx);
        if (!k)
            return report(w, kn, key, "unknown key", NULL);
        if (w->seen[idx])
            return report(w, kn, key, "duplicate key", NULL);
        w->seen[idx] = true;
        int rc = k->kind == AG_KEY_MAP   ? walk_map(w, vn, key)
                 : k->kind == AG_KEY_SEQ ? set_seq(w, k, vn)
                                         : set_scalar(w, k, vn);
        if (rc < 0)
            return -1;
        if (strcmp(key, "watch.mode") == 0)
            w->mode_line = kn->start_mark.line + 1;
    }
    return 0;
}

/* mode: all with lists is a contradiction; lists without a mode mean mode: list. */
static int check_watch(struct walk *w)
{
    struct ag_watch *wt = &w->conf->watch;
    bool lists = wt->nexe || wt->ncgroup || wt->npid;
    if (!w->mode_line) {
        if (lists)
            wt->mode = AG_WATCH_LIST;
        return 0;
    }
    if (wt->mode == AG_WATCH_ALL && lists) {
        fprintf(w->err,
                "vigil-agent: %s:%zu: watch.mode: 'all' with exe, cgroup or pid lists "
                "(use mode: list)\n",
                w->path, w->mode_line);
        return -1;
    }
    if (wt->mode == AG_WATCH_LIST && !lists) {
        fprintf(w->err, "vigil-agent: %s:%zu: watch.mode: 'list' needs exe, cgroup or pid\n",
                w->path, w->mode_line);
        return -1;
    }
    return 0;
}

int ag_config_parse_yaml(struct ag_config *c, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(err, "vigil-agent: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fprintf(err, "vigil-agent: %s:%zu: syntax error: %s\n", path, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "unreadable");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    struct walk w = {.conf = c, .doc = &doc, .path = path, .err = err};
    /* An empty file is a valid config: every default. */
    if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
        rc = 0;
    else if (walk_map(&w, root, NULL) == 0)
        rc = check_watch(&w);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
