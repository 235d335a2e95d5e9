/*
 * XML with libexpat: see xml.h. Expat calls back for each element start,
 * end and run of character data; a stack of open elements builds the tree,
 * collecting each element's own text, and the limits are checked as it grows.
 */
#include "core/xml.h"

#include <expat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/banned.h"

#define XML_DEFAULT_MAX_BYTES (1024 * 1024)
#define XML_DEFAULT_MAX_DEPTH 32
#define XML_DEFAULT_MAX_ELEMENTS 10000

/* Expat joins a namespace URI and a local name with this byte. */
#define NS_SEP '\x01'

struct frame {
	struct fl_xml_node *node;
	struct fl_xml_node *last_child;
	struct fl_buf text;
};

struct parse {
	XML_Parser parser;
	struct fl_xml_doc *doc;
	struct fl_xml_limits limits;
	struct frame *stack; /* max_depth frames */
	unsigned depth;
	size_t elements;
	int code;            /* set by a handler that stopped the parser */
	const char *why;
	unsigned long line, col;
};

static void stop(struct parse *p, int code, const char *why)
{
	if (p->code)
		return;
	p->code = code;
	p->why = why;
	p->line = XML_GetCurrentLineNumber(p->parser);
	p->col = XML_GetCurrentColumnNumber(p->parser) + 1;
	XML_StopParser(p->parser, XML_FALSE);
}

static void on_start(void *payload, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *p = payload;
	const char *local = strrchr(name, NS_SEP);
	(void)attrs;

	if (p->code)
		return;
	if (p->depth >= p->limits.max_depth) {
		stop(p, FL_ELIMIT, "elements nested too deep");
		return;
	}
	if (++p->elements > p->limits.max_elements) {
		stop(p, FL_ELIMIT, "too many elements");
		return;
	}
	struct fl_xml_node *node = fl_arena_alloc(&p->doc->arena, sizeof(*node));
	node->name = fl_arena_strdup(&p->doc->arena, local ? local + 1 : name);
	if (p->depth == 0) {
		p->doc->root = node;
	} else {
		struct frame *up = &p->stack[p->depth - 1];
		node->parent = up->node;
		if (up->last_child)
			up->last_child->next = node;
		else
			up->node->children = node;
		up->last_child = node;
	}
	struct frame *f = &p->stack[p->depth++];
	f->node = node;
	f->last_child = NULL;
	fl_buf_clear(&f->text);
}

static void on_end(void *payload, const XML_Char *name)
{
	struct parse *p = payload;
	(void)name;

	if (p->code || p->depth == 0)
		return;
	struct frame *f = &p->stack[--p->depth];
	f->node->text = fl_arena_strndup(&p->doc->arena, f->text.ptr, f->text.len);
	f->node->text_len = f->text.len;
}

static void on_text(void *payload, const XML_Char *s, int len)
{
	struct parse *p = payload;

	/* Text outside the root is white space only, which expat checks. */
	if (p->code || p->depth == 0)
		return;
	/* The text is a part of the document, which is bounded already. */
	if (fl_buf_put(&p->stack[p->depth - 1].text, s, (size_t)len) != 0)
		stop(p, FL_ELIMIT, "text too long");
}

static void on_doctype(void *payload, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(payload, FL_EINPUT, "a DOCTYPE is not allowed (no DTDs, no entities)");
}

static void on_entity(void *payload, const XML_Char *name, int is_param, const XML_Char *value,
		      int value_len, const XML_Char *base, const XML_Char *sysid,
		      const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	stop(payload, FL_EINPUT, "an entity declaration is not allowed");
}

static void limits_or_defaults(struct fl_xml_limits *out, const struct fl_xml_limits *in)
{
	out->max_bytes = in && in->max_bytes ? in->max_bytes : XML_DEFAULT_MAX_BYTES;
	out->max_depth = in && in->max_depth ? in->max_depth : XML_DEFAULT_MAX_DEPTH;
	out->max_elements = in && in->max_elements ? in->max_elements : XML_DEFAULT_MAX_ELEMENTS;
}

static int run(struct parse *p, const char *xml, size_t len, struct fl_error *err)
{
	XML_SetUserData(p->parser, p);
	XML_SetElementHandler(p->parser, on_start, on_end);
	XML_SetCharacterDataHandler(p->parser, on_text);
	XML_SetStartDoctypeDeclHandler(p->parser, on_doctype);
	XML_SetEntityDeclHandler(p->parser, on_entity);
	XML_SetParamEntityParsing(p->parser, XML_PARAM_ENTITY_PARSING_NEVER);

	if (XML_Parse(p->parser, xml, (int)len, XML_TRUE) == XML_STATUS_OK && !p->code)
		return 0;
	if (p->code)
		return fl_error_set(err, p->code, "xml: line %lu, column %lu: %s", p->line, p->col, p->why);
	return fl_error_set(err, FL_EINPUT, "xml: line %lu, column %lu: %s",
			    (unsigned long)XML_GetCurrentLineNumber(p->parser),
			    (unsigned long)XML_GetCurrentColumnNumber(p->parser) + 1,
			    XML_ErrorString(XML_GetErrorCode(p->parser)));
}

int fl_xml_parse(struct fl_xml_doc *out, const char *xml, size_t len,
		 const struct fl_xml_limits *limits, struct fl_error *err)
{
	struct parse p;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	fl_arena_init(&out->arena, 4096);
	memset(&p, 0, sizeof(p));
	p.doc = out;
	limits_or_defaults(&p.limits, limits);
	if (len > p.limits.max_bytes || len > (size_t)(int)0x7fffffff)
		return fl_error_set(err, FL_ELIMIT, "xml: document of %zu bytes exceeds the limit of %zu",
				    len, p.limits.max_bytes);
	p.parser = XML_ParserCreateNS("UTF-8", NS_SEP);
	if (!p.parser)
		return fl_error_set(err, FL_EINTERNAL, "xml: cannot create a parser");
	p.stack = fl_calloc(p.limits.max_depth, sizeof(*p.stack));
	for (unsigned i = 0; i < p.limits.max_depth; i++)
		fl_buf_init(&p.stack[i].text, 0);

	rc = run(&p, xml, len, err);
	if (rc == 0 && !out->root)
		rc = fl_error_set(err, FL_EINPUT, "xml: no root element");

	for (unsigned i = 0; i < p.limits.max_depth; i++)
		fl_buf_release(&p.stack[i].text);
	free(p.stack);
	XML_ParserFree(p.parser);
	if (rc)
		out->root = NULL;
	return rc;
}

void fl_xml_doc_release(struct fl_xml_doc *doc)
{
	if (!doc)
		return;
	fl_arena_release(&doc->arena);
	doc->root = NULL;
}

/* True when path[0..len) is name. */
static bool step_is(const char *name, const char *path, size_t len)
{
	return strlen(name) == len && memcmp(name, path, len) == 0;
}

const struct fl_xml_node *fl_xml_find(const struct fl_xml_node *from, const char *path)
{
	const struct fl_xml_node *node = from;
	const char *p = path;

	if (!from || !path)
		return NULL;
	for (;;) {
		size_t len = strcspn(p, "/");
		if (!node || !step_is(node->name, p, len))
			return NULL;
		if (p[len] == '\0')
			return node;
		p += len + 1;
		size_t next_len = strcspn(p, "/");
		const struct fl_xml_node *child = node->children;
		while (child && !step_is(child->name, p, next_len))
			child = child->next;
		node = child;
	}
}

const char *fl_xml_text(const struct fl_xml_doc *doc, const char *path)
{
	const struct fl_xml_node *node = doc ? fl_xml_find(doc->root, path) : NULL;

	return node ? node->text : NULL;
}
