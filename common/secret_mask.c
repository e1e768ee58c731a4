/*
 * secret_mask - hides secret values in a job's output before it is stored.
 *
 * Every form of every value is a pattern of an Aho-Corasick automaton,
 * built at the first write: a trie of the patterns with failure links,
 * completed into a table of moves over classes of bytes (one step per byte
 * of output) unless that table would be too big, as it is for values of
 * tens of KiB, where moves follow the failure links. A node knows its depth
 * (the length of the longest end of the output that is the start of a
 * pattern) and the length of the longest pattern that ends there.
 *
 * Output is appended to `pend`; each occurrence found adds the stretch it
 * covers to a list of masked stretches (merged when they overlap or touch).
 * Everything but the last `depth` bytes is final, since a later occurrence
 * can only start there, so it is passed on: plain bytes as they are, a
 * stretch as "***". A stretch that reaches into the held bytes is passed on
 * as "***" at once and marked, so that its rest is dropped without a second
 * "***"; so held bytes are at most the longest pattern, and the list at most
 * half of that.
 */
#include "secret_mask.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The most memory the table of moves may take (bytes). */
#define MASK_DENSE_BUDGET (32u << 20)

typedef struct {
    int32_t edge; /* first outgoing edge, -1 for none (not the root's) */
    int32_t fail; /* the node of the longest proper suffix in the trie */
    uint32_t depth;
    uint32_t out; /* longest pattern ending here (suffixes included), 0 */
} mnode_t;

typedef struct {
    int32_t to;
    int32_t next;
    unsigned char c;
} medge_t;

typedef struct {
    int64_t s, e; /* [s, e) absolute positions in the output */
    bool opened;  /* its "***" is passed on already; s is the first held byte */
} mrange_t;

struct secret_mask {
    secret_mask_out_fn out;
    void *arg;

    /* Patterns, until the automaton is built. */
    buf_t *pats;
    size_t npats;
    bool built;

    /* The automaton. */
    int32_t root[256];
    mnode_t *nodes;
    size_t nnodes, nodes_cap;
    medge_t *edges;
    size_t nedges, edges_cap;
    /* Every node's move on every class of bytes, when it fits the budget:
     * the target's row (node * nclasses) times two, plus one when a
     * pattern ends there, so a step is one load and a shift. */
    uint32_t *delta;
    unsigned char classes[256]; /* byte -> class; 0 for bytes in no pattern */
    size_t nclasses;

    /* The stream. */
    int32_t state;
    buf_t pend; /* output not passed on yet, from pend_off */
    size_t pend_off;
    int64_t base; /* position of pend.data[pend_off] */
    mrange_t *ranges;
    size_t nranges, ranges_cap;
};

/* ---- patterns ---- */

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
mask_pattern(secret_mask_t *m, const char *p, size_t len)
{
    if (len == 0)
        return;
    for (size_t i = 0; i < m->npats; i++)
        if (m->pats[i].len == len && memcmp(m->pats[i].data, p, len) == 0)
            return;
    m->pats = xrealloc(m->pats, (m->npats + 1) * sizeof(*m->pats));
    buf_init(&m->pats[m->npats]);
    buf_append(&m->pats[m->npats], p, len);
    m->npats++;
}

/* The base64 characters of v that do not depend on the bytes around it,
 * when k bytes of the encoded text come before it. */
static void
mask_base64(secret_mask_t *m, const unsigned char *v, size_t len, size_t k, const char *alphabet)
{
    buf_t b;
    size_t bits = 8 * (k + len);

    buf_init(&b);
    for (size_t i = (8 * k + 5) / 6; 6 * (i + 1) <= bits; i++) {
        unsigned sextet = 0;
        for (size_t bit = 6 * i; bit < 6 * i + 6; bit++) {
            size_t byte = bit / 8 - k; /* bit >= 8k: inside v */
            sextet = (sextet << 1) | ((v[byte] >> (7 - bit % 8)) & 1u);
        }
        buf_append(&b, &alphabet[sextet], 1);
    }
    mask_pattern(m, b.data, b.len);
    buf_free(&b);
}

/* The whole encoding of v alone, its last character included (with the
 * padding, and without it), as base64(1) and most libraries print it. */
static void
mask_base64_whole(secret_mask_t *m, const unsigned char *v, size_t len, const char *alphabet)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t x = (uint32_t)v[i] << 16;
        if (i + 1 < len)
            x |= (uint32_t)v[i + 1] << 8;
        if (i + 2 < len)
            x |= v[i + 2];
        size_t n = len - i >= 3 ? 4 : len - i + 1;
        for (size_t k = 0; k < n; k++)
            buf_append(&b, &alphabet[(x >> (18 - 6 * k)) & 63], 1);
    }
    mask_pattern(m, b.data, b.len);
    if (len % 3 != 0) {
        buf_puts(&b, len % 3 == 1 ? "==" : "=");
        mask_pattern(m, b.data, b.len);
    }
    buf_free(&b);
}

static void
mask_url(secret_mask_t *m, const unsigned char *v, size_t len, const char *hex, bool plus)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = v[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append(&b, &c, 1);
        } else if (c == ' ' && plus) {
            buf_append(&b, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(&b, e, 3);
        }
    }
    mask_pattern(m, b.data, b.len);
    buf_free(&b);
}

static void
mask_json(secret_mask_t *m, const unsigned char *v, size_t len, bool slash)
{
    static const char hex[] = "0123456789abcdef";
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = v[i];
        switch (c) {
        case '"':
            buf_puts(&b, "\\\"");
            break;
        case '\\':
            buf_puts(&b, "\\\\");
            break;
        case '\b':
            buf_puts(&b, "\\b");
            break;
        case '\f':
            buf_puts(&b, "\\f");
            break;
        case '\n':
            buf_puts(&b, "\\n");
            break;
        case '\r':
            buf_puts(&b, "\\r");
            break;
        case '\t':
            buf_puts(&b, "\\t");
            break;
        case '/':
            buf_puts(&b, slash ? "\\/" : "/");
            break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(&b, e, 6);
            } else {
                buf_append(&b, &c, 1);
            }
        }
    }
    mask_pattern(m, b.data, b.len);
    buf_free(&b);
}

int
secret_mask_add(secret_mask_t *m, const char *value, size_t len)
{
    const unsigned char *v = (const unsigned char *)value;

    if (len < SECRET_MASK_MIN_LEN)
        return -1;
    if (m->built) {
        /* A new automaton: what was held is passed on under the old one. */
        secret_mask_finish(m);
        m->built = false;
    }
    if (memchr(value, '\n', len) == NULL) {
        mask_pattern(m, value, len);
    } else {
        /* No pattern holds a newline, so a finished line is never held. */
        const char *p = value, *end = value + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *next = nl != NULL ? nl + 1 : end;
            size_t n = (size_t)((nl != NULL ? nl : end) - p);
            if (n > 0 && p[n - 1] == '\r')
                n--;
            if (n >= SECRET_MASK_MIN_LINE)
                mask_pattern(m, p, n);
            p = next;
        }
    }
    for (size_t k = 0; k < 3; k++) {
        mask_base64(m, v, len, k, B64_STD);
        mask_base64(m, v, len, k, B64_URL);
    }
    mask_base64_whole(m, v, len, B64_STD);
    mask_base64_whole(m, v, len, B64_URL);
    mask_url(m, v, len, "0123456789ABCDEF", false);
    mask_url(m, v, len, "0123456789abcdef", false);
    mask_url(m, v, len, "0123456789ABCDEF", true);
    mask_json(m, v, len, false);
    mask_json(m, v, len, true);
    return 0;
}

/* ---- the automaton ---- */

static int32_t
mask_node(secret_mask_t *m, uint32_t depth)
{
    if (m->nnodes == m->nodes_cap) {
        m->nodes_cap = m->nodes_cap ? 2 * m->nodes_cap : 64;
        m->nodes = xrealloc(m->nodes, m->nodes_cap * sizeof(*m->nodes));
    }
    m->nodes[m->nnodes] = (mnode_t){.edge = -1, .fail = 0, .depth = depth, .out = 0};
    return (int32_t)m->nnodes++;
}

static int32_t
mask_child(const secret_mask_t *m, int32_t s, unsigned char c)
{
    if (s == 0)
        return m->root[c];
    for (int32_t e = m->nodes[s].edge; e >= 0; e = m->edges[e].next)
        if (m->edges[e].c == c)
            return m->edges[e].to;
    return 0;
}

/* The automaton's move from s on c (0, the root, when nothing fits). */
static inline int32_t
mask_step(const secret_mask_t *m, int32_t s, unsigned char c)
{
    for (;;) {
        int32_t t = mask_child(m, s, c);
        if (t != 0 || s == 0)
            return t;
        s = m->nodes[s].fail;
    }
}

static void
mask_insert(secret_mask_t *m, const unsigned char *p, size_t len)
{
    int32_t s = 0;

    for (size_t i = 0; i < len; i++) {
        int32_t t = mask_child(m, s, p[i]);
        if (t == 0) {
            t = mask_node(m, (uint32_t)i + 1);
            if (s == 0) {
                m->root[p[i]] = t;
            } else {
                if (m->nedges == m->edges_cap) {
                    m->edges_cap = m->edges_cap ? 2 * m->edges_cap : 64;
                    m->edges = xrealloc(m->edges, m->edges_cap * sizeof(*m->edges));
                }
                m->edges[m->nedges] = (medge_t){.to = t, .next = m->nodes[s].edge, .c = p[i]};
                m->nodes[s].edge = (int32_t)m->nedges++;
            }
        }
        s = t;
    }
    m->nodes[s].out = (uint32_t)len;
}

/* Complete the moves into a table over byte classes, nodes in breadth
 * first order (so a node's failure target's row is complete before its
 * own), when the table stays within MASK_DENSE_BUDGET; otherwise moves
 * follow failure links as they go. */
static void
mask_dense(secret_mask_t *m, const int32_t *order, size_t n)
{
    bool used[256] = {false};

    free(m->delta);
    m->delta = NULL;
    for (size_t i = 0; i < m->npats; i++)
        for (size_t k = 0; k < m->pats[i].len; k++)
            used[(unsigned char)m->pats[i].data[k]] = true;
    m->nclasses = 1;
    for (int c = 0; c < 256; c++)
        m->classes[c] = used[c] ? (unsigned char)m->nclasses++ : 0;
    if (m->nnodes * m->nclasses * sizeof(uint32_t) > MASK_DENSE_BUDGET)
        return;
    m->delta = xcalloc(m->nnodes * m->nclasses, sizeof(uint32_t));
    for (int c = 0; c < 256; c++)
        m->delta[m->classes[c]] = (uint32_t)m->root[c];
    for (size_t i = 0; i < n; i++) {
        int32_t u = order[i];
        uint32_t *row = m->delta + (size_t)u * m->nclasses;
        memcpy(row, m->delta + (size_t)m->nodes[u].fail * m->nclasses,
               m->nclasses * sizeof(uint32_t));
        for (int32_t e = m->nodes[u].edge; e >= 0; e = m->edges[e].next)
            row[m->classes[m->edges[e].c]] = (uint32_t)m->edges[e].to;
    }
    for (size_t i = 0; i < m->nnodes * m->nclasses; i++) {
        uint32_t t = m->delta[i];
        m->delta[i] = (uint32_t)(t * m->nclasses) << 1 | (m->nodes[t].out > 0);
    }
}

static void
mask_build(secret_mask_t *m)
{
    int32_t *queue;
    size_t head = 0, tail = 0;

    m->nnodes = 0;
    m->nedges = 0;
    memset(m->root, 0, sizeof(m->root));
    mask_node(m, 0);
    for (size_t i = 0; i < m->npats; i++)
        mask_insert(m, (const unsigned char *)m->pats[i].data, m->pats[i].len);

    /* Breadth first, so a node's failure target is complete before it. */
    queue = xmalloc(m->nnodes * sizeof(*queue));
    for (int c = 0; c < 256; c++)
        if (m->root[c] != 0)
            queue[tail++] = m->root[c];
    while (head < tail) {
        int32_t u = queue[head++];
        for (int32_t e = m->nodes[u].edge; e >= 0; e = m->edges[e].next) {
            int32_t v = m->edges[e].to;
            int32_t f = mask_step(m, m->nodes[u].fail, m->edges[e].c);
            m->nodes[v].fail = f;
            if (m->nodes[f].out > m->nodes[v].out)
                m->nodes[v].out = m->nodes[f].out;
            queue[tail++] = v;
        }
    }
    mask_dense(m, queue, tail);
    free(queue);
    m->state = 0;
    m->built = true;
}

/* ---- the stream ---- */

secret_mask_t *
secret_mask_new(secret_mask_out_fn out, void *arg)
{
    secret_mask_t *m = xcalloc(1, sizeof(*m));

    m->out = out;
    m->arg = arg;
    buf_init(&m->pend);
    return m;
}

static void
mask_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void
secret_mask_free(secret_mask_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->npats; i++) {
        mask_wipe(m->pats[i].data, m->pats[i].len);
        buf_free(&m->pats[i]);
    }
    free(m->pats);
    free(m->nodes);
    free(m->edges);
    free(m->delta);
    mask_wipe(m->pend.data, m->pend.len);
    buf_free(&m->pend);
    free(m->ranges);
    free(m);
}

/* An occurrence covers [s, e); e is never below an earlier one's. */
static void
mask_range(secret_mask_t *m, int64_t s, int64_t e)
{
    bool opened = false;

    while (m->nranges > 0 && m->ranges[m->nranges - 1].e >= s) {
        mrange_t *r = &m->ranges[--m->nranges];
        if (r->s < s)
            s = r->s;
        if (r->e > e)
            e = r->e;
        opened = opened || r->opened;
    }
    if (m->nranges == m->ranges_cap) {
        m->ranges_cap = m->ranges_cap ? 2 * m->ranges_cap : 16;
        m->ranges = xrealloc(m->ranges, m->ranges_cap * sizeof(*m->ranges));
    }
    m->ranges[m->nranges++] = (mrange_t){.s = s, .e = e, .opened = opened};
}

static void
mask_plain(secret_mask_t *m, int64_t from, int64_t to)
{
    if (to > from)
        m->out(m->arg, m->pend.data + m->pend_off + (from - m->base), (size_t)(to - from));
}

/* Pass on the output before position f (nothing after it is final). */
static void
mask_pass(secret_mask_t *m, int64_t f)
{
    int64_t cur = m->base;
    size_t done = 0;

    for (; done < m->nranges; done++) {
        mrange_t *r = &m->ranges[done];
        if (r->s >= f)
            break;
        mask_plain(m, cur, r->s);
        if (!r->opened)
            m->out(m->arg, SECRET_MASK_TEXT, strlen(SECRET_MASK_TEXT));
        if (r->e >= f) {
            /* Kept even when it ends at f: an occurrence may start there,
             * touching it, and must not make a second "***". */
            r->s = f;
            r->opened = true;
            cur = f;
            break;
        }
        cur = r->e;
    }
    mask_plain(m, cur, f);
    if (done > 0) {
        memmove(m->ranges, m->ranges + done, (m->nranges - done) * sizeof(*m->ranges));
        m->nranges -= done;
    }
    m->pend_off += (size_t)(f - m->base);
    m->base = f;
}

/* A pattern ends at position e in state s. */
static void
mask_found(secret_mask_t *m, int32_t s, int64_t e)
{
    mask_range(m, e - m->nodes[s].out, e);
    if (m->nranges >= 64)
        mask_pass(m, e - m->nodes[s].depth);
}

void
secret_mask_write(secret_mask_t *m, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    int64_t at; /* position of p[0] */
    int32_t s;

    if (len == 0)
        return;
    if (!m->built)
        mask_build(m);
    if (m->npats == 0) {
        m->out(m->arg, data, len);
        m->base += (int64_t)len;
        return;
    }
    /* Drop what was passed on, keep what is held. */
    buf_consume(&m->pend, m->pend_off);
    m->pend_off = 0;
    at = m->base + (int64_t)m->pend.len;
    buf_append(&m->pend, data, len);

    s = m->state;
    if (m->delta != NULL) {
        /* The table is read through locals: the calls below may not
         * change it, but the compiler cannot know. */
        const uint32_t *delta = m->delta;
        const unsigned char *classes = m->classes;
        uint32_t ncls = (uint32_t)m->nclasses;
        uint32_t row = (uint32_t)s * ncls;
        for (size_t i = 0; i < len; i++) {
            uint32_t e = delta[row + classes[p[i]]];
            row = e >> 1;
            if (e & 1)
                mask_found(m, (int32_t)(row / ncls), at + (int64_t)i + 1);
        }
        s = (int32_t)(row / ncls);
    } else {
        for (size_t i = 0; i < len; i++) {
            s = mask_step(m, s, p[i]);
            if (m->nodes[s].out > 0)
                mask_found(m, s, at + (int64_t)i + 1);
        }
    }
    m->state = s;
    mask_pass(m, at + (int64_t)len - m->nodes[s].depth);
}

void
secret_mask_finish(secret_mask_t *m)
{
    if (m->built && m->npats > 0)
        mask_pass(m, m->base + (int64_t)(m->pend.len - m->pend_off));
    m->nranges = 0;
    m->state = 0;
    mask_wipe(m->pend.data, m->pend.len);
    buf_reset(&m->pend);
    m->pend_off = 0;
}

size_t
secret_mask_held(const secret_mask_t *m)
{
    return m->pend.len - m->pend_off;
}

size_t
secret_mask_patterns(const secret_mask_t *m)
{
    return m->npats;
}

const char *
secret_mask_pattern(const secret_mask_t *m, size_t i, size_t *len)
{
    *len = m->pats[i].len;
    return m->pats[i].data;
}
