/* SPDX-License-Identifier: MIT */
/* A small YAML node tree from libyaml's events, with positions and the limits
 * that keep a hostile file cheap (yamltree.h). */
#include "yamltree.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "alerting.h"
#include "alloc.h"

typedef struct yt_anchor {
    char *name;
    al_ynode *node;
} yt_anchor;

/* State of one parse: the open containers and the anchors seen so far. */
typedef struct yt_builder {
    al_ytree *tree;
    al_ynode **stack;
    size_t depth;
    size_t cap;
    yt_anchor *anchors;
    size_t n_anchors;
    size_t cap_anchors;
    size_t n_aliases;
    size_t alias_nodes;         /* nodes reached through aliases so far */
    int documents;
    al_yerror *err;
} yt_builder;

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return ALERT_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = al_realloc(*items, ncap * size);
    if (!p)
        return ALERT_ERR_NOMEM;
    *items = p;
    *cap = ncap;
    return ALERT_OK;
}

static void node_free(al_ynode *n)
{
    al_free(n->text);
    al_free(n->items);
    al_free(n);
}

/* Registers n in the tree before anything else can fail, so that freeing the
 * tree frees it. */
static al_ynode *node_new(al_ytree *t, al_ynode_kind kind)
{
    if (grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof *t->nodes))
        return NULL;
    al_ynode *n = al_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->weight = 1;
    t->nodes[t->n_nodes++] = n;
    return n;
}

al_ynode *al_ytree_new_scalar(al_ytree *t, const char *text, int quoted)
{
    al_ynode *n = node_new(t, AL_Y_SCALAR);
    if (!n)
        return NULL;
    n->len = strlen(text);
    n->text = al_strndup(text, n->len);
    if (!n->text)
        return NULL;
    n->quoted = quoted;
    n->closed = 1;
    return n;
}

al_ynode *al_ytree_new_mapping(al_ytree *t)
{
    al_ynode *n = node_new(t, AL_Y_MAPPING);
    if (n)
        n->closed = 1;
    return n;
}

int al_ynode_append(al_ynode *container, al_ynode *child)
{
    if (grow((void **)&container->items, &container->cap, container->n + 1,
             sizeof *container->items))
        return ALERT_ERR_NOMEM;
    container->items[container->n++] = child;
    return ALERT_OK;
}

int al_ynode_is_null(const al_ynode *n)
{
    if (!n)
        return 1;
    if (n->kind != AL_Y_SCALAR || n->quoted)
        return 0;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

void al_ytree_free(al_ytree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_nodes; i++)
        node_free(t->nodes[i]);
    al_free(t->nodes);
    t->nodes = NULL;
    t->n_nodes = t->cap_nodes = 0;
    t->root = NULL;
}

static int fail_at(yt_builder *b, yaml_mark_t mark, const char *msg, const char *detail)
{
    b->err->line = (int)mark.line + 1;
    b->err->column = (int)mark.column + 1;
    snprintf(b->err->text, sizeof b->err->text, "%s%s%s", msg, detail ? detail : "",
             detail ? "'" : "");
    return ALERT_ERR_CONFIG;
}

static int fail_limit(yt_builder *b, yaml_mark_t mark, const char *what, unsigned long limit)
{
    b->err->line = (int)mark.line + 1;
    b->err->column = (int)mark.column + 1;
    snprintf(b->err->text, sizeof b->err->text, "YAML limit: %s %lu", what, limit);
    return ALERT_ERR_CONFIG;
}

/* Appends n to the open container, within AL_YAML_MAX_ENTRIES. */
static int append_child(yt_builder *b, al_ynode *n, yaml_mark_t mark)
{
    if (b->depth == 0) {
        b->tree->root = n;
        return ALERT_OK;
    }
    al_ynode *parent = b->stack[b->depth - 1];
    size_t per_entry = parent->kind == AL_Y_MAPPING ? 2 : 1;
    if (parent->n >= (size_t)AL_YAML_MAX_ENTRIES * per_entry)
        return fail_limit(b, mark,
                          parent->kind == AL_Y_MAPPING ? "more keys in one mapping than"
                                                       : "more items in one list than",
                          AL_YAML_MAX_ENTRIES);
    return al_ynode_append(parent, n);
}

static int attach(yt_builder *b, al_ynode *n, const yaml_event_t *ev)
{
    n->line = (int)ev->start_mark.line + 1;
    n->column = (int)ev->start_mark.column + 1;
    return append_child(b, n, ev->start_mark);
}

/* A later anchor of the same name hides an earlier one, as in YAML. */
static int anchor_add(yt_builder *b, const yaml_char_t *name, al_ynode *n, yaml_mark_t mark)
{
    if (!name)
        return ALERT_OK;
    /* anchor_find is linear: the bound keeps a document of aliases linear too */
    if (b->n_anchors >= AL_YAML_MAX_ANCHORS)
        return fail_limit(b, mark, "more anchors than", AL_YAML_MAX_ANCHORS);
    if (grow((void **)&b->anchors, &b->cap_anchors, b->n_anchors + 1, sizeof *b->anchors))
        return ALERT_ERR_NOMEM;
    char *copy = al_strdup((const char *)name);
    if (!copy)
        return ALERT_ERR_NOMEM;
    b->anchors[b->n_anchors].name = copy;
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
    return ALERT_OK;
}

static al_ynode *anchor_find(const yt_builder *b, const yaml_char_t *name)
{
    for (size_t i = b->n_anchors; i-- > 0;)
        if (strcmp(b->anchors[i].name, (const char *)name) == 0)
            return b->anchors[i].node;
    return NULL;
}

static int on_scalar(yt_builder *b, const yaml_event_t *ev)
{
    al_ynode *n = node_new(b->tree, AL_Y_SCALAR);
    if (!n)
        return ALERT_ERR_NOMEM;
    n->len = ev->data.scalar.length;
    n->text = al_strndup((const char *)ev->data.scalar.value, n->len);
    if (!n->text)
        return ALERT_ERR_NOMEM;
    const char *tag = (const char *)ev->data.scalar.tag;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                (tag && strcmp(tag, YAML_STR_TAG) == 0);
    n->closed = 1;
    int rc = attach(b, n, ev);
    return rc ? rc : anchor_add(b, ev->data.scalar.anchor, n, ev->start_mark);
}

static int on_start(yt_builder *b, const yaml_event_t *ev, al_ynode_kind kind)
{
    if (b->depth >= AL_YAML_MAX_DEPTH)
        return fail_limit(b, ev->start_mark, "nesting deeper than", AL_YAML_MAX_DEPTH);
    al_ynode *n = node_new(b->tree, kind);
    if (!n)
        return ALERT_ERR_NOMEM;
    int rc = attach(b, n, ev);
    if (rc)
        return rc;
    const yaml_char_t *anchor = kind == AL_Y_SEQUENCE ? ev->data.sequence_start.anchor
                                                      : ev->data.mapping_start.anchor;
    rc = anchor_add(b, anchor, n, ev->start_mark);
    if (rc)
        return rc;
    if (grow((void **)&b->stack, &b->cap, b->depth + 1, sizeof *b->stack))
        return ALERT_ERR_NOMEM;
    b->stack[b->depth++] = n;
    return ALERT_OK;
}

/* Saturating: only comparisons with AL_YAML_MAX_ALIAS_NODES need the value. */
static size_t weight_add(size_t a, size_t b)
{
    size_t cap = (size_t)AL_YAML_MAX_ALIAS_NODES + 1;
    return a >= cap || b >= cap || a + b >= cap ? cap : a + b;
}

static int on_end(yt_builder *b)
{
    /* libyaml only emits balanced events, so the stack is never empty here */
    if (b->depth == 0)
        return ALERT_OK;
    al_ynode *n = b->stack[--b->depth];
    for (size_t i = 0; i < n->n; i++)
        n->weight = weight_add(n->weight, n->items[i]->weight);
    n->closed = 1;
    return ALERT_OK;
}

static int on_alias(yt_builder *b, const yaml_event_t *ev)
{
    al_ynode *n = anchor_find(b, ev->data.alias.anchor);
    if (!n)
        return fail_at(b, ev->start_mark, "undefined alias '",
                       (const char *)ev->data.alias.anchor);
    if (!n->closed)
        return fail_at(b, ev->start_mark, "recursive alias '",
                       (const char *)ev->data.alias.anchor);
    /* The tree shares the node, but whoever walks it pays for every copy: a
     * few kilobytes of nested aliases would otherwise expand to billions. */
    if (++b->n_aliases > AL_YAML_MAX_ALIASES)
        return fail_limit(b, ev->start_mark, "more aliases than", AL_YAML_MAX_ALIASES);
    b->alias_nodes = weight_add(b->alias_nodes, n->weight);
    if (b->alias_nodes > AL_YAML_MAX_ALIAS_NODES)
        return fail_limit(b, ev->start_mark, "aliases expand to more nodes than",
                          AL_YAML_MAX_ALIAS_NODES);
    return append_child(b, n, ev->start_mark);
}

static int on_event(yt_builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        /* LiteLLM's yaml.safe_load refuses a stream of several documents too */
        if (b->documents++ > 0)
            return fail_at(b, ev->start_mark, "malformed YAML: expected a single document",
                           NULL);
        return ALERT_OK;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, AL_Y_SEQUENCE);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, AL_Y_MAPPING);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    default:
        return ALERT_OK;
    }
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark. */
static void offset_position(const char *data, size_t len, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\r' && i + 1 < len && data[i + 1] == '\n')
            continue;           /* CRLF is one break, as libyaml counts it */
        if (ch == '\n' || ch == '\r') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* At the end of a text without a final newline libyaml puts its mark on the line
 * after it; "1:7" reads better than "2:1" for the value "[slack". */
static void clamp_to_end(const char *data, size_t len, al_yerror *err)
{
    int line, col;
    offset_position(data, len, len, &line, &col);
    if (err->line > line || (err->line == line && err->column > col)) {
        err->line = line;
        err->column = col;
    }
}

static int parser_error(const yaml_parser_t *p, const char *data, size_t len, al_yerror *err)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return ALERT_ERR_NOMEM;
    case YAML_READER_ERROR:
        offset_position(data, len, p->problem_offset, &err->line, &err->column);
        snprintf(err->text, sizeof err->text, "malformed YAML: %s", problem);
        return ALERT_ERR_CONFIG;
    default:
        err->line = (int)p->problem_mark.line + 1;
        err->column = (int)p->problem_mark.column + 1;
        clamp_to_end(data, len, err);
        if (p->context)
            snprintf(err->text, sizeof err->text, "malformed YAML: %s %s", problem, p->context);
        else
            snprintf(err->text, sizeof err->text, "malformed YAML: %s", problem);
        return ALERT_ERR_CONFIG;
    }
}

static void builder_free(yt_builder *b)
{
    for (size_t i = 0; i < b->n_anchors; i++)
        al_free(b->anchors[i].name);
    al_free(b->anchors);
    al_free(b->stack);
}

int al_ytree_parse(al_ytree *t, const char *data, size_t len, al_yerror *err)
{
    memset(err, 0, sizeof *err);
    t->root = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ALERT_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    yt_builder b = { .tree = t, .err = err };
    int rc = ALERT_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&parser, data, len, err);
            break;
        }
        rc = on_event(&b, &ev);
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (rc != ALERT_OK || type == YAML_STREAM_END_EVENT)
            break;
    }
    builder_free(&b);
    yaml_parser_delete(&parser);
    if (rc != ALERT_OK)
        al_ytree_free(t);
    return rc;
}
