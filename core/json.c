/*
 * JSON for flotilla: the canonical form that resources are fingerprinted by,
 * a pretty printer for documents people read, and a strict RFC 8259 parser
 * into the node tree. Both directions are hot paths (every rendered resource,
 * every observed state), so they avoid per-value heap allocation.
 */
#include "core/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

/* Maps with at most this many keys are sorted without touching the heap. */
#define SORT_STACK 32
/* Objects with at most this many members are checked for duplicates pairwise. */
#define DUP_LINEAR 16
#define MAX_DEPTH 256
/* Room for the text of any double, with the ".0" that marks it a float. */
#define DOUBLE_TEXT_MAX 40

/* ---- writing ---- */

/*
 * What each byte becomes inside a JSON string: 0 copies it as is, 'u' writes
 * \u00XX, anything else writes a backslash and that character.
 */
/* clang-format off */
static const char escape_of[256] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
	['"'] = '"', ['\\'] = '\\',
};
/* clang-format on */

int fl_json_put_str(struct fl_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	int rc = fl_buf_putc(out, '"');
	size_t run = 0; /* start of the bytes not yet written */

	for (size_t i = 0; i < len && !rc; i++) {
		char e = escape_of[(unsigned char)s[i]];
		if (!e)
			continue;
		rc = fl_buf_put(out, s + run, i - run);
		if (rc)
			break;
		run = i + 1;
		if (e == 'u') {
			unsigned char c = (unsigned char)s[i];
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			rc = fl_buf_put(out, u, sizeof(u));
		} else {
			char pair[2] = { '\\', e };
			rc = fl_buf_put(out, pair, sizeof(pair));
		}
	}
	if (!rc)
		rc = fl_buf_put(out, s + run, len - run);
	if (!rc)
		rc = fl_buf_putc(out, '"');
	return rc;
}

size_t fl_json_str_len(const char *s, size_t len)
{
	size_t n = len + 2;

	for (size_t i = 0; i < len; i++) {
		char e = escape_of[(unsigned char)s[i]];
		if (e)
			n += e == 'u' ? 5 : 1;
	}
	return n;
}

size_t fl_json_str_max_len(size_t len)
{
	return len > (SIZE_MAX - 2) / 6 ? SIZE_MAX : 6 * len + 2;
}

/* Writes the shortest round-trip form of d into tmp; its length, or a negative code. */
static int double_text(char tmp[DOUBLE_TEXT_MAX], double d)
{
	int n = 0;

	if (!isfinite(d))
		return FL_EINPUT;
	/* 17 significant digits always read back exactly; most values need fewer. */
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(tmp, DOUBLE_TEXT_MAX, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (n < 0 || n >= DOUBLE_TEXT_MAX - 2)
		return FL_EINTERNAL;
	/* Plain decimals for everyday magnitudes (100.0, not 1e+02), as JavaScript prints them. */
	const char *e = strpbrk(tmp, "eE");
	if (e) {
		int exp = atoi(e + 1), digits = 0;
		for (const char *p = tmp; p < e; p++)
			digits += *p >= '0' && *p <= '9';
		if (exp > -7 && exp < 21) {
			int decimals = digits - 1 - exp;
			n = snprintf(tmp, DOUBLE_TEXT_MAX, "%.*f", decimals > 0 ? decimals : 0, d);
			if (n < 0 || n >= DOUBLE_TEXT_MAX - 2)
				return FL_EINTERNAL;
		}
	}
	/* Mark it as a float so that 1.0 never reads back as the integer 1. */
	if (!strpbrk(tmp, ".eE")) {
		tmp[n++] = '.';
		tmp[n++] = '0';
	}
	return n;
}

int fl_json_put_double(struct fl_buf *out, double d)
{
	char tmp[DOUBLE_TEXT_MAX];
	int n = double_text(tmp, d);

	return n < 0 ? n : fl_buf_put(out, tmp, (size_t)n);
}

static int put_int(struct fl_buf *out, int64_t i)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);
	/* Negating in uint64_t keeps INT64_MIN defined. */
	uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	return fl_buf_put(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* The length of put_int's decimal text of i. */
static size_t int_len(int64_t i)
{
	uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	size_t n = i < 0 ? 2 : 1;

	for (; u >= 10; u /= 10)
		n++;
	return n;
}

bool fl_json_scalar_len(size_t *out, const struct fl_node *node)
{
	switch (node->type) {
	case FL_NODE_NULL:
		*out = 4;
		return true;
	case FL_NODE_BOOL:
		*out = node->v.b ? 4 : 5;
		return true;
	case FL_NODE_INT:
		*out = int_len(node->v.i);
		return true;
	case FL_NODE_STR:
		*out = fl_json_str_len(node->v.str.ptr, node->v.str.len);
		return true;
	default:
		return false;
	}
}

static int compare_keys(const struct fl_node *a, const struct fl_node *b)
{
	return fl_json_key_cmp(a->v.str.ptr, a->v.str.len, b->v.str.ptr, b->v.str.len);
}

static int compare_pair_ptrs(const void *a, const void *b)
{
	const struct fl_pair *pa = *(const struct fl_pair *const *)a;
	const struct fl_pair *pb = *(const struct fl_pair *const *)b;
	return compare_keys(pa->key, pb->key);
}

void fl_json_sorted_members(const struct fl_pair **out, const struct fl_node *map)
{
	size_t len = map->v.map.len;
	bool in_order = true;

	for (size_t i = 0; i < len; i++) {
		out[i] = &map->v.map.items[i];
		if (i && in_order && compare_keys(out[i - 1]->key, out[i]->key) > 0)
			in_order = false;
	}
	/* Documents written by programs are mostly in order already. */
	if (!in_order)
		qsort(out, len, sizeof(*out), compare_pair_ptrs);
}

struct writer {
	struct fl_buf *out;
	struct fl_error *err;
	bool pretty;
};

static int write_value(const struct writer *w, const struct fl_node *node, unsigned level);

/* In pretty output: a newline and two spaces per level. */
static int put_newline(const struct writer *w, unsigned level)
{
	static const char spaces[] = "                                ";
	size_t n = (size_t)level * 2;
	int rc = 0;

	if (!w->pretty)
		return 0;
	rc = fl_buf_putc(w->out, '\n');
	while (!rc && n) {
		size_t chunk = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		rc = fl_buf_put(w->out, spaces, chunk);
		n -= chunk;
	}
	return rc;
}

static int write_seq(const struct writer *w, const struct fl_node *node, unsigned level)
{
	int rc = fl_buf_putc(w->out, '[');

	for (size_t i = 0; i < node->v.seq.len && !rc; i++) {
		if (i)
			rc = fl_buf_putc(w->out, ',');
		if (!rc)
			rc = put_newline(w, level + 1);
		if (!rc)
			rc = write_value(w, node->v.seq.items[i], level + 1);
	}
	if (!rc && node->v.seq.len)
		rc = put_newline(w, level);
	if (!rc)
		rc = fl_buf_putc(w->out, ']');
	return rc;
}

static int write_map(const struct writer *w, const struct fl_node *node, unsigned level)
{
	const struct fl_pair *small[SORT_STACK];
	const struct fl_pair **sorted = small;
	size_t len = node->v.map.len;
	int rc = 0;

	if (len > SORT_STACK)
		sorted = fl_reallocarray(NULL, len, sizeof(*sorted));
	fl_json_sorted_members(sorted, node);
	rc = fl_buf_putc(w->out, '{');
	for (size_t i = 0; i < len && !rc; i++) {
		const struct fl_node *key = sorted[i]->key;
		if (i)
			rc = fl_buf_putc(w->out, ',');
		if (!rc)
			rc = put_newline(w, level + 1);
		if (!rc)
			rc = fl_json_put_str(w->out, key->v.str.ptr, key->v.str.len);
		if (!rc)
			rc = w->pretty ? fl_buf_put(w->out, ": ", 2) : fl_buf_putc(w->out, ':');
		if (!rc)
			rc = write_value(w, sorted[i]->value, level + 1);
	}
	if (!rc && len)
		rc = put_newline(w, level);
	if (!rc)
		rc = fl_buf_putc(w->out, '}');

	if (sorted != small)
		free(sorted);
	return rc;
}

static int write_value(const struct writer *w, const struct fl_node *node, unsigned level)
{
	switch (node->type) {
	case FL_NODE_NULL:
		return fl_buf_put(w->out, "null", 4);
	case FL_NODE_BOOL:
		return node->v.b ? fl_buf_put(w->out, "true", 4) : fl_buf_put(w->out, "false", 5);
	case FL_NODE_INT:
		return put_int(w->out, node->v.i);
	case FL_NODE_FLOAT:
		if (!isfinite(node->v.f)) {
			fl_error_set(w->err, FL_EINPUT, "number cannot be represented in JSON");
			if (w->err) {
				w->err->line = node->line;
				w->err->col = node->col;
			}
			return FL_EINPUT;
		}
		return fl_json_put_double(w->out, node->v.f);
	case FL_NODE_STR:
		return fl_json_put_str(w->out, node->v.str.ptr, node->v.str.len);
	case FL_NODE_SEQ:
		return write_seq(w, node, level);
	case FL_NODE_MAP:
		return write_map(w, node, level);
	}
	return fl_error_set(w->err, FL_EINTERNAL, "unknown node type %d", (int)node->type);
}

/* Writes node; on failure out is left as it was and err says why. */
static int write_doc(struct fl_buf *out, const struct fl_node *node, struct fl_error *err, bool pretty)
{
	const struct writer w = { out, err, pretty };
	size_t start = out->len;
	int rc = write_value(&w, node, 0);

	if (rc) {
		fl_buf_truncate(out, start);
		/* Only the buffer fails with FL_ELIMIT, and it does not fill err. */
		if (rc == FL_ELIMIT)
			fl_error_set(err, FL_ELIMIT, "JSON output exceeds the limit of %zu bytes", out->max);
	}
	return rc;
}

int fl_json_canonical(struct fl_buf *out, const struct fl_node *node, struct fl_error *err)
{
	return write_doc(out, node, err, false);
}

int fl_json_pretty(struct fl_buf *out, const struct fl_node *node, struct fl_error *err)
{
	return write_doc(out, node, err, true);
}

/* ---- parsing ---- */

struct parser {
	const char *p, *end;	/* the next byte to read; the end of the text */
	const char *line_start; /* the first byte of the line p is on */
	uint32_t line;
	unsigned depth; /* containers open around p */
	const struct fl_source *src;
	struct fl_arena *arena;
	struct fl_error *err;
	/* Members of all open containers, innermost last; arrays leave key NULL. */
	struct fl_pair *stack;
	size_t stack_len, stack_cap;
	/* A string being unescaped, or a long number being NUL-terminated. */
	char *scratch;
	size_t scratch_len, scratch_cap;
	/* Pointers into stack, sorted to find duplicate keys in a large object. */
	const struct fl_pair **order;
	size_t order_cap;
};

static uint32_t col_of(const struct parser *ps, const char *pos)
{
	size_t col = (size_t)(pos - ps->line_start) + 1;
	return col > UINT32_MAX ? UINT32_MAX : (uint32_t)col;
}

static int vfail(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static int fail_pos(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail_at(struct parser *ps, const char *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int vfail(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	char msg[FL_ERROR_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fl_error_set_at(ps->err, code, ps->src, line, col, "%s", msg);
	/* fl_error_set_at only positions errors about a named file; keep ours anyway. */
	if (ps->err && !ps->err->line) {
		ps->err->line = line;
		ps->err->col = col;
	}
	return code;
}

/* Fails with code at line:col (a position seen earlier, such as a key's). */
static int fail_pos(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ps, code, line, col, fmt, ap);
	va_end(ap);
	return code;
}

/* Fails with FL_EINPUT at pos, which is on the line being read. */
static int fail_at(struct parser *ps, const char *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ps, FL_EINPUT, ps->line, col_of(ps, pos), fmt, ap);
	va_end(ap);
	return FL_EINPUT;
}

/* Names the byte at p for a message: "'x'", "byte 0xff" or "the end of input". */
static const char *describe(const struct parser *ps, const char *p, char buf[16])
{
	unsigned char c;

	if (p >= ps->end)
		return "the end of input";
	c = (unsigned char)*p;
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", c);
	return buf;
}

static void skip_ws(struct parser *ps)
{
	const char *p = ps->p;

	while (p < ps->end) {
		char c = *p;
		if (c == '\n') {
			ps->line++;
			ps->line_start = p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			break;
		}
		p++;
	}
	ps->p = p;
}

static struct fl_node *new_node(struct parser *ps, enum fl_node_type type, const char *pos)
{
	struct fl_node *node = fl_arena_alloc(ps->arena, sizeof(*node));
	node->type = type;
	node->line = ps->line;
	node->col = col_of(ps, pos);
	return node;
}

static void scratch_put(struct parser *ps, const char *s, size_t len)
{
	FL_GROW(ps->scratch, ps->scratch_cap, ps->scratch_len + len + 1);
	memcpy(ps->scratch + ps->scratch_len, s, len);
	ps->scratch_len += len;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0xc2)
		return 0; /* a continuation byte, or an overlong two-byte lead */
	if (s[0] < 0xe0) {
		n = 2;
	} else if (s[0] < 0xf0) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (s[0] < 0xf5) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		return 0;
	}
	if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static void put_utf8(struct parser *ps, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	scratch_put(ps, u, n);
}

/* Reads the four hex digits after "\u" at p; -1 if they are not there. */
static long read_hex4(const struct parser *ps, const char *p)
{
	long v = 0;

	if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		char c = p[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Decodes the escape at ps->p (a backslash) onto scratch and moves past it. */
static int parse_escape(struct parser *ps, const char *open)
{
	const char *esc = ps->p;
	char buf[16];
	char c;
	long cp, lo;

	if (ps->end - esc < 2)
		return fail_at(ps, open, "unterminated string (expected '\"' before the end of input)");
	c = esc[1];
	switch (c) {
	case '"':
	case '\\':
	case '/':
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		cp = read_hex4(ps, esc);
		if (cp < 0)
			return fail_at(ps, esc, "expected 4 hex digits after '\\u' in string");
		ps->p = esc + 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail_at(ps, esc, "lone low surrogate '\\u%04lx' in string", cp);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			lo = read_hex4(ps, ps->p);
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail_at(ps, esc,
					       "lone surrogate '\\u%04lx' in string (expected a low "
					       "surrogate '\\udc00'-'\\udfff' after it)",
					       cp);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			ps->p += 6;
		}
		put_utf8(ps, (uint32_t)cp);
		return 0;
	default:
		if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f)
			return fail_at(ps, esc, "invalid escape in string: backslash followed by %s",
				       describe(ps, esc + 1, buf));
		return fail_at(ps, esc, "invalid escape '\\%c' in string", c);
	}
	scratch_put(ps, &c, 1);
	ps->p = esc + 2;
	return 0;
}

/*
 * Reads the string at ps->p (a '"') into node. Plain strings are copied to
 * the arena straight from the source; only escapes go through scratch.
 */
static int parse_string(struct parser *ps, struct fl_node *node)
{
	const char *open = ps->p;
	const char *run = open + 1; /* start of the bytes not yet on scratch */
	bool escaped = false;
	int rc = 0;

	ps->p++;
	ps->scratch_len = 0;
	for (;;) {
		const char *p = ps->p;
		unsigned char c = 0;
		while (p < ps->end) {
			c = (unsigned char)*p;
			if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
				break;
			p++;
		}
		ps->p = p;
		if (p == ps->end)
			return fail_at(ps, open,
				       "unterminated string (expected '\"' before the end of input)");
		if (c == '"')
			break;
		if (c == '\\') {
			escaped = true;
			scratch_put(ps, run, (size_t)(p - run));
			rc = parse_escape(ps, open);
			if (rc)
				return rc;
			run = ps->p;
		} else if (c < 0x20) {
			return fail_at(ps, p, "unescaped control character 0x%02x in string", c);
		} else {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)ps->end);
			if (!n)
				return fail_at(ps, p, "invalid UTF-8 in string (byte 0x%02x)", c);
			ps->p = p + n;
		}
	}
	node->type = FL_NODE_STR;
	node->quoted = true;
	if (escaped) {
		scratch_put(ps, run, (size_t)(ps->p - run));
		node->v.str.ptr = fl_arena_strndup(ps->arena, ps->scratch, ps->scratch_len);
		node->v.str.len = ps->scratch_len;
	} else {
		node->v.str.ptr = fl_arena_strndup(ps->arena, run, (size_t)(ps->p - run));
		node->v.str.len = (size_t)(ps->p - run);
	}
	ps->p++;
	return 0;
}

static bool is_digit(const struct parser *ps, const char *p)
{
	return p < ps->end && *p >= '0' && *p <= '9';
}

static int parse_number(struct parser *ps, struct fl_node *node)
{
	const char *start = ps->p, *p = ps->p;
	bool neg = false, is_int = true, overflow = false;
	uint64_t mag = 0;
	char small[64];
	char *text = small;
	size_t len;
	double d;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(ps, p))
		return fail_at(ps, p, "expected a digit after '-'");
	if (*p == '0' && is_digit(ps, p + 1))
		return fail_at(ps, p, "leading zeros are not allowed in numbers");
	for (; is_digit(ps, p); p++) {
		unsigned dig = (unsigned)(*p - '0');
		if (mag > (UINT64_MAX - dig) / 10)
			overflow = true;
		else
			mag = mag * 10 + dig;
	}
	if (p < ps->end && *p == '.') {
		is_int = false;
		p++;
		if (!is_digit(ps, p))
			return fail_at(ps, p, "expected a digit after '.' in number");
		while (is_digit(ps, p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		is_int = false;
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(ps, p))
			return fail_at(ps, p, "expected a digit in the exponent of number");
		while (is_digit(ps, p))
			p++;
	}
	ps->p = p;

	if (is_int && !overflow && mag <= (uint64_t)INT64_MAX + neg) {
		node->type = FL_NODE_INT;
		if (!neg)
			node->v.i = (int64_t)mag;
		else if (mag == (uint64_t)INT64_MAX + 1)
			node->v.i = INT64_MIN;
		else
			node->v.i = -(int64_t)mag;
		return 0;
	}

	/* strtod wants a terminated string; the source text need not be one. */
	len = (size_t)(p - start);
	if (len >= sizeof(small)) {
		ps->scratch_len = 0;
		scratch_put(ps, start, len);
		text = ps->scratch;
	} else {
		memcpy(small, start, len);
	}
	text[len] = '\0';
	d = strtod(text, NULL);
	if (isinf(d))
		return fail_at(ps, start, "number is too large to be represented");
	node->type = FL_NODE_FLOAT;
	node->v.f = d;
	return 0;
}

static int parse_literal(struct parser *ps, struct fl_node *node)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *word = *ps->p == 't' ? words[0] : *ps->p == 'f' ? words[1] : words[2];
	size_t len = strlen(word);

	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
		return fail_at(ps, ps->p, "expected '%s'", word);
	if (word == words[2]) {
		node->type = FL_NODE_NULL;
	} else {
		node->type = FL_NODE_BOOL;
		node->v.b = word == words[0];
	}
	ps->p += len;
	return 0;
}

static void push(struct parser *ps, struct fl_node *key, struct fl_node *value)
{
	FL_GROW(ps->stack, ps->stack_cap, ps->stack_len + 1);
	ps->stack[ps->stack_len].key = key;
	ps->stack[ps->stack_len].value = value;
	ps->stack_len++;
}

/* In key order, then source order, so the first of equal keys comes first. */
static int compare_dup_order(const void *a, const void *b)
{
	const struct fl_pair *pa = *(const struct fl_pair *const *)a;
	const struct fl_pair *pb = *(const struct fl_pair *const *)b;
	int c = compare_keys(pa->key, pb->key);
	if (c)
		return c;
	return (pa > pb) - (pa < pb);
}

/* Fails on the first key in source order that repeats an earlier one. */
static int check_duplicates(struct parser *ps, const struct fl_pair *m, size_t n)
{
	const struct fl_pair *dup = NULL;
	char shown[80];
	size_t shown_len;

	if (n <= DUP_LINEAR) {
		for (size_t i = 1; i < n && !dup; i++)
			for (size_t j = 0; j < i; j++)
				if (compare_keys(m[i].key, m[j].key) == 0) {
					dup = &m[i];
					break;
				}
	} else {
		FL_GROW(ps->order, ps->order_cap, n);
		for (size_t i = 0; i < n; i++)
			ps->order[i] = &m[i];
		qsort(ps->order, n, sizeof(*ps->order), compare_dup_order);
		for (size_t i = 1; i < n; i++)
			if (compare_keys(ps->order[i - 1]->key, ps->order[i]->key) == 0 &&
			    (!dup || ps->order[i] < dup))
				dup = ps->order[i];
	}
	if (!dup)
		return 0;
	/* The key goes into a one-line message: control characters become '?'. */
	shown_len = dup->key->v.str.len < sizeof(shown) - 1 ? dup->key->v.str.len : sizeof(shown) - 1;
	for (size_t i = 0; i < shown_len; i++) {
		unsigned char c = (unsigned char)dup->key->v.str.ptr[i];
		shown[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	shown[shown_len] = '\0';
	return fail_pos(ps, FL_EINPUT, dup->key->line, dup->key->col, "duplicate key '%s'%s", shown,
			shown_len < dup->key->v.str.len ? "..." : "");
}

static int parse_value(struct parser *ps, struct fl_node **out);

static int enter(struct parser *ps)
{
	if (ps->depth >= MAX_DEPTH)
		return fail_pos(ps, FL_ELIMIT, ps->line, col_of(ps, ps->p), "nesting deeper than %d levels",
				MAX_DEPTH);
	ps->depth++;
	ps->p++;
	return 0;
}

/* Enters the container at ps->p; *more is false when close ends it at once. */
static int open_container(struct parser *ps, char close, bool *more)
{
	int rc = enter(ps);

	if (!rc) {
		skip_ws(ps);
		*more = !(ps->p < ps->end && *ps->p == close);
		if (!*more)
			ps->p++;
	}
	return rc;
}

/* Leaves the container whose members start at stack[base]; returns rc. */
static int close_container(struct parser *ps, size_t base, int rc)
{
	ps->stack_len = base;
	ps->depth--;
	return rc;
}

/* After an element: ',' says another follows (*more), close ends the container. */
static int after_element(struct parser *ps, char close, const char *element, bool *more)
{
	char buf[16];

	skip_ws(ps);
	*more = ps->p < ps->end && *ps->p == ',';
	if (!*more && !(ps->p < ps->end && *ps->p == close))
		return fail_at(ps, ps->p, "expected ',' or '%c' after %s, found %s", close, element,
			       describe(ps, ps->p, buf));
	ps->p++;
	return 0;
}

static int parse_array(struct parser *ps, struct fl_node *node)
{
	size_t base = ps->stack_len;
	bool more = false;
	int rc = open_container(ps, ']', &more);

	if (rc)
		return rc;
	node->type = FL_NODE_SEQ;
	while (!rc && more) {
		struct fl_node *item = NULL;
		rc = parse_value(ps, &item);
		if (!rc) {
			push(ps, NULL, item);
			rc = after_element(ps, ']', "an array element", &more);
		}
	}
	/* An empty array keeps the zeroed node: no items, no allocation. */
	if (!rc && ps->stack_len > base) {
		node->v.seq.len = ps->stack_len - base;
		node->v.seq.items = fl_arena_calloc(ps->arena, node->v.seq.len, sizeof(*node->v.seq.items));
		for (size_t i = 0; i < node->v.seq.len; i++)
			node->v.seq.items[i] = ps->stack[base + i].value;
	}
	return close_container(ps, base, rc);
}

/* Parses one "key": value of the object whose members start at stack[base]. */
static int parse_member(struct parser *ps, size_t base)
{
	struct fl_node *key, *value = NULL;
	char buf[16];
	int rc;

	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != '"')
		return fail_at(ps, ps->p, "expected a string key %s, found %s",
			       ps->stack_len == base ? "or '}'" : "after ','", describe(ps, ps->p, buf));
	key = new_node(ps, FL_NODE_STR, ps->p);
	if ((rc = parse_string(ps, key)))
		return rc;
	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != ':')
		return fail_at(ps, ps->p, "expected ':' after an object key, found %s", describe(ps, ps->p, buf));
	ps->p++;
	if ((rc = parse_value(ps, &value)))
		return rc;
	push(ps, key, value);
	return 0;
}

static int parse_object(struct parser *ps, struct fl_node *node)
{
	size_t base = ps->stack_len;
	bool more = false;
	int rc = open_container(ps, '}', &more);

	if (rc)
		return rc;
	node->type = FL_NODE_MAP;
	while (!rc && more) {
		rc = parse_member(ps, base);
		if (!rc)
			rc = after_element(ps, '}', "an object member", &more);
	}
	/* An empty object may leave the stack unallocated: nothing to check or copy. */
	if (!rc && ps->stack_len > base)
		rc = check_duplicates(ps, ps->stack + base, ps->stack_len - base);
	if (!rc && ps->stack_len > base) {
		node->v.map.len = ps->stack_len - base;
		node->v.map.items = fl_arena_calloc(ps->arena, node->v.map.len, sizeof(*node->v.map.items));
		memcpy(node->v.map.items, ps->stack + base, node->v.map.len * sizeof(*node->v.map.items));
	}
	return close_container(ps, base, rc);
}

/* Parses the value after any white space at ps->p into a new node. */
static int parse_value(struct parser *ps, struct fl_node **out)
{
	struct fl_node *node;
	char buf[16];
	int rc;

	skip_ws(ps);
	if (ps->p == ps->end)
		return fail_at(ps, ps->p, "expected a value, found the end of input");
	node = new_node(ps, FL_NODE_NULL, ps->p);
	switch (*ps->p) {
	case '{':
		rc = parse_object(ps, node);
		break;
	case '[':
		rc = parse_array(ps, node);
		break;
	case '"':
		rc = parse_string(ps, node);
		break;
	case 't':
	case 'f':
	case 'n':
		rc = parse_literal(ps, node);
		break;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		rc = parse_number(ps, node);
		break;
	default:
		return fail_at(ps, ps->p, "expected a value, found %s", describe(ps, ps->p, buf));
	}
	if (!rc)
		*out = node;
	return rc;
}

int fl_json_parse(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		  struct fl_error *err)
{
	const char *text = src->text ? src->text : "";
	struct parser ps = {
		.p = text,
		.end = text + (src->text ? src->len : 0),
		.line_start = text,
		.line = 1,
		.src = src,
		.arena = arena,
		.err = err,
	};
	struct fl_node *root = NULL;
	int rc;

	*out = NULL;
	rc = parse_value(&ps, &root);
	if (rc)
		goto out;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		rc = fail_at(&ps, ps.p, "unexpected trailing characters after the JSON value");
		goto out;
	}
	*out = root;
out:
	free(ps.stack);
	free(ps.scratch);
	free(ps.order);
	return rc;
}

/* ---- checking canonical texts ----
 *
 * Specs that flotilla rendered, and observed specs that a driver stored as
 * given, are canonical JSON already. For those, equal subtrees are equal
 * bytes and every value is its own canonical form, so a reader can compare
 * texts without building trees. The check records where each value ends (a
 * tape), so that such a reader never scans a value twice.
 */

/* Checks one text: its bounds, and the tape it fills. */
struct canon {
	const char *base, *end;
	struct fl_json_tape *tape;
};

/*
 * Bytes that end a run of plain string text: those the writer escapes, and
 * non-ASCII (checked as UTF-8). A table: this is the inner loop of the check.
 */
/* clang-format off */
static const bool string_special[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
	[0x80] = 1, [0x81] = 1, [0x82] = 1, [0x83] = 1, [0x84] = 1, [0x85] = 1, [0x86] = 1,
	[0x87] = 1, [0x88] = 1, [0x89] = 1, [0x8a] = 1, [0x8b] = 1, [0x8c] = 1, [0x8d] = 1,
	[0x8e] = 1, [0x8f] = 1, [0x90] = 1, [0x91] = 1, [0x92] = 1, [0x93] = 1, [0x94] = 1,
	[0x95] = 1, [0x96] = 1, [0x97] = 1, [0x98] = 1, [0x99] = 1, [0x9a] = 1, [0x9b] = 1,
	[0x9c] = 1, [0x9d] = 1, [0x9e] = 1, [0x9f] = 1, [0xa0] = 1, [0xa1] = 1, [0xa2] = 1,
	[0xa3] = 1, [0xa4] = 1, [0xa5] = 1, [0xa6] = 1, [0xa7] = 1, [0xa8] = 1, [0xa9] = 1,
	[0xaa] = 1, [0xab] = 1, [0xac] = 1, [0xad] = 1, [0xae] = 1, [0xaf] = 1, [0xb0] = 1,
	[0xb1] = 1, [0xb2] = 1, [0xb3] = 1, [0xb4] = 1, [0xb5] = 1, [0xb6] = 1, [0xb7] = 1,
	[0xb8] = 1, [0xb9] = 1, [0xba] = 1, [0xbb] = 1, [0xbc] = 1, [0xbd] = 1, [0xbe] = 1,
	[0xbf] = 1, [0xc0] = 1, [0xc1] = 1, [0xc2] = 1, [0xc3] = 1, [0xc4] = 1, [0xc5] = 1,
	[0xc6] = 1, [0xc7] = 1, [0xc8] = 1, [0xc9] = 1, [0xca] = 1, [0xcb] = 1, [0xcc] = 1,
	[0xcd] = 1, [0xce] = 1, [0xcf] = 1, [0xd0] = 1, [0xd1] = 1, [0xd2] = 1, [0xd3] = 1,
	[0xd4] = 1, [0xd5] = 1, [0xd6] = 1, [0xd7] = 1, [0xd8] = 1, [0xd9] = 1, [0xda] = 1,
	[0xdb] = 1, [0xdc] = 1, [0xdd] = 1, [0xde] = 1, [0xdf] = 1, [0xe0] = 1, [0xe1] = 1,
	[0xe2] = 1, [0xe3] = 1, [0xe4] = 1, [0xe5] = 1, [0xe6] = 1, [0xe7] = 1, [0xe8] = 1,
	[0xe9] = 1, [0xea] = 1, [0xeb] = 1, [0xec] = 1, [0xed] = 1, [0xee] = 1, [0xef] = 1,
	[0xf0] = 1, [0xf1] = 1, [0xf2] = 1, [0xf3] = 1, [0xf4] = 1, [0xf5] = 1, [0xf6] = 1,
	[0xf7] = 1, [0xf8] = 1, [0xf9] = 1, [0xfa] = 1, [0xfb] = 1, [0xfc] = 1, [0xfd] = 1,
	[0xfe] = 1, [0xff] = 1,
};
/* clang-format on */

static const char *canon_value(const struct canon *c, const char *p, unsigned depth);

/* Past the UTF-8 sequence at p, or NULL when it is not valid. */
static const char *utf8_step(const char *p, const char *end)
{
	size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
	return n ? p + n : NULL;
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The end of the canonical escape at p (a backslash), or NULL. */
static const char *canon_escape(const char *p, const char *end)
{
	static const char simple[] = "\"\\bfnrt";
	const char *q = NULL;
	unsigned v;

	if (end - p >= 2 && p[1] && strchr(simple, p[1])) {
		q = p + 2;
	} else if (end - p >= 6 && p[1] == 'u' && p[2] == '0' && p[3] == '0' && is_hex_lower(p[4]) &&
		   is_hex_lower(p[5])) {
		/* Only control characters without a short escape are written \u00XX. */
		v = (unsigned)((p[4] - '0') * 16 + (p[5] <= '9' ? p[5] - '0' : p[5] - 'a' + 10));
		if (v < 0x20 && v != '\b' && v != '\f' && v != '\n' && v != '\r' && v != '\t')
			q = p + 6;
	}
	return q;
}

/* The end of the canonical string at p (a '"'), or NULL; keys may not escape. */
static const char *canon_string(const char *p, const char *end, bool key)
{
	p++;
	while (p && p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (!string_special[c])
			while (++p < end && !string_special[(unsigned char)*p])
				continue;
		else if (c < 0x20 || (c == '\\' && key))
			p = NULL;
		else if (c == '\\')
			p = canon_escape(p, end);
		else
			p = utf8_step(p, end);
	}
	return p && p < end ? p + 1 : NULL;
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* A float is canonical when fl_json_put_double writes exactly its text. */
static bool canon_float(const char *p, size_t len)
{
	char text[48], shortest[DOUBLE_TEXT_MAX];
	double d;
	int n;

	if (len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	d = strtod(text, NULL);
	/* -0.0 equals 0.0 as a value but not as bytes: leave it to the tree walk. */
	if (d == 0 && text[0] == '-')
		return false;
	n = double_text(shortest, d);
	return n >= 0 && (size_t)n == len && memcmp(shortest, p, len) == 0;
}

static const char *canon_number(const struct canon *c, const char *p)
{
	const char *start = p, *int_start, *q, *end = c->end;
	bool is_float = false;

	p += *p == '-';
	int_start = p;
	q = digits(p, end);
	p = q == p || (*p == '0' && q - p > 1) ? NULL : q;
	if (p && p < end && *p == '.') {
		is_float = true;
		q = digits(p + 1, end);
		p = q == p + 1 ? NULL : q;
	}
	if (p && p < end && (*p == 'e' || *p == 'E')) {
		is_float = true;
		q = p + 1 + (p + 1 < end && (p[1] == '+' || p[1] == '-'));
		p = digits(q, end) == q ? NULL : digits(q, end);
	}
	if (p && is_float && !canon_float(start, (size_t)(p - start)))
		p = NULL;
	/* Integers: no "-0", and short enough to be sure they fit int64. */
	if (p && !is_float && (p - int_start > 18 || (start[0] == '-' && int_start[0] == '0')))
		p = NULL;
	return p;
}

static const char *canon_literal(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *canon_object(const struct canon *c, const char *p, unsigned depth)
{
	const char *prev = NULL, *key, *end = c->end;
	size_t prev_len = 0;
	bool closed = false;

	p++;
	if (p < end && *p == '}')
		closed = true;
	while (!closed && p && p < end && *p == '"') {
		key = p + 1;
		p = canon_string(p, end, true);
		/* Strictly increasing keys: sorted, and no duplicates. */
		if (p && prev && fl_json_key_cmp(prev, prev_len, key, (size_t)(p - 1 - key)) >= 0)
			p = NULL;
		if (p) {
			prev = key;
			prev_len = (size_t)(p - 1 - key);
		}
		p = p && p < end && *p == ':' ? canon_value(c, p + 1, depth + 1) : NULL;
		closed = p && p < end && *p == '}';
		if (!closed)
			p = p && p < end && *p == ',' ? p + 1 : NULL;
	}
	return closed ? p + 1 : NULL;
}

static const char *canon_array(const struct canon *c, const char *p, unsigned depth)
{
	const char *end = c->end;
	bool closed;

	p++;
	closed = p < end && *p == ']';
	while (!closed && p && p < end) {
		p = canon_value(c, p, depth + 1);
		closed = p && p < end && *p == ']';
		if (!closed)
			p = p && p < end && *p == ',' ? p + 1 : NULL;
	}
	return closed ? p + 1 : NULL;
}

static const char *canon_scalar(const struct canon *c, const char *p)
{
	const char *q = NULL;

	switch (*p) {
	case '"': q = canon_string(p, c->end, false); break;
	case 't': q = canon_literal(p, c->end, "true"); break;
	case 'f': q = canon_literal(p, c->end, "false"); break;
	case 'n': q = canon_literal(p, c->end, "null"); break;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9'))
			q = canon_number(c, p);
		break;
	}
	return q;
}

/* The end of the canonical value at p, or NULL; records it on the tape. */
static const char *canon_value(const struct canon *c, const char *p, unsigned depth)
{
	struct fl_json_tape *t = c->tape;
	size_t k = t->len;
	const char *q;

	if (p >= c->end || depth >= MAX_DEPTH)
		return NULL;
	if (t->len == t->cap)
		FL_GROW(t->items, t->cap, t->len + 1);
	t->len++;
	if (*p == '{')
		q = canon_object(c, p, depth);
	else if (*p == '[')
		q = canon_array(c, p, depth);
	else
		q = canon_scalar(c, p);
	if (q) {
		t->items[k].end = (size_t)(q - c->base);
		t->items[k].count = t->len - k - 1;
	}
	return q;
}

bool fl_json_is_canonical(struct fl_json_tape *out, const char *json, size_t len)
{
	const struct canon c = { json, json + len, out };

	out->len = 0;
	return canon_value(&c, json, 0) == json + len;
}

void fl_json_tape_release(struct fl_json_tape *tape)
{
	free(tape->items);
	tape->items = NULL;
	tape->len = tape->cap = 0;
}
