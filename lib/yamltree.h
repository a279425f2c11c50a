/* SPDX-License-Identifier: MIT */
/* A small YAML node tree built from libyaml's events, so the config code can
 * walk a document with positions without any yaml_* type leaving this module.
 * Aliases point at the anchored node (shared, never copied), so every node is
 * also listed in the tree and freed from there. */
#ifndef AL_YAMLTREE_H
#define AL_YAMLTREE_H

#include <stddef.h>

typedef enum al_ynode_kind {
    AL_Y_SCALAR,
    AL_Y_SEQUENCE,
    AL_Y_MAPPING
} al_ynode_kind;

typedef struct al_ynode {
    al_ynode_kind kind;
    int line;                   /* 1-based; 0 for nodes made with al_ytree_new_* */
    int column;                 /* 1-based; 0 for nodes made with al_ytree_new_* */
    int quoted;                 /* scalar written quoted, as a block or tagged !!str:
                                   the plain words (null, true, .inf) do not apply */
    char *text;                 /* scalar: NUL-terminated (may hold NULs: see len) */
    size_t len;
    struct al_ynode **items;    /* sequence: items; mapping: key, value, key, value… */
    size_t n;
    size_t cap;
    int closed;                 /* its end event was seen (an alias to an open node
                                   would make a cycle) */
    size_t weight;              /* nodes a walk of it visits, aliases expanded
                                   (saturates at AL_YAML_MAX_ALIAS_NODES + 1) */
} al_ynode;

typedef struct al_ytree {
    al_ynode *root;             /* NULL: an empty stream or document */
    al_ynode **nodes;           /* every node, for freeing */
    size_t n_nodes;
    size_t cap_nodes;
} al_ytree;

#define AL_YTREE_INIT { NULL, NULL, 0, 0 }

/* Limits that keep a hostile document from costing more than its size: every
 * check is O(1) per event, so a file of any size is parsed in linear time. */
#define AL_YAML_MAX_DEPTH        64      /* nested lists and mappings */
#define AL_YAML_MAX_ENTRIES      10000   /* items of one list, keys of one mapping */
#define AL_YAML_MAX_ANCHORS      1000    /* anchors (&name) in a document */
#define AL_YAML_MAX_ALIASES      10000   /* aliases (*name) in a document */
#define AL_YAML_MAX_ALIAS_NODES  100000  /* nodes reached through aliases, counted
                                            once per alias (an alias of an alias
                                            counts all it expands to) */

typedef struct al_yerror {
    int line;                   /* 1-based */
    int column;                 /* 1-based, in characters */
    char text[200];
} al_yerror;

/* Parses one YAML document from data[0..len). ALERT_OK, ALERT_ERR_NOMEM, or
 * ALERT_ERR_CONFIG with err filled (malformed YAML, several documents, an
 * undefined or recursive alias, a limit above exceeded: the position is where
 * the limit was crossed). On failure the tree is empty. */
int al_ytree_parse(al_ytree *t, const char *data, size_t len, al_yerror *err);
void al_ytree_free(al_ytree *t);

/* Nodes that belong to t without coming from a document (alert_config_set
 * wraps a value in the mappings of its dotted key). NULL on allocation failure. */
al_ynode *al_ytree_new_scalar(al_ytree *t, const char *text, int quoted);
al_ynode *al_ytree_new_mapping(al_ytree *t);
/* ALERT_OK or ALERT_ERR_NOMEM. */
int al_ynode_append(al_ynode *container, al_ynode *child);

/* A plain scalar meaning null: empty, "~", "null", "Null", "NULL". A NULL node
 * (a missing value) is null too. */
int al_ynode_is_null(const al_ynode *n);

#endif
