/*
 * Fuzz target of core/xml.c: any bytes through the parser with small
 * limits. What parses must be a consistent tree: every child points back at
 * its parent, depth and element count stay within the limits, each text is
 * NUL-terminated at its length, and the path of names from the root to an
 * element that is the first of its name among its siblings at every step
 * finds exactly that element. An inconsistency aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/xml.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 16
#define MAX_ELEMENTS 2000

static void broken(const char *what)
{
	fprintf(stderr, "fuzz_xml: %s\n", what);
	abort();
}

/* True when no sibling before node has its name: the one a path step finds. */
static bool first_of_name(const struct fl_xml_node *node)
{
	const struct fl_xml_node *s = node->parent ? node->parent->children : node;

	for (; s != node; s = s->next)
		if (strcmp(s->name, node->name) == 0)
			return false;
	return true;
}

static void check(const struct fl_xml_node *node, unsigned depth, size_t *count, struct fl_buf *path,
		  const struct fl_xml_node *root, bool findable)
{
	size_t len = path->len;

	if (depth > MAX_DEPTH)
		broken("deeper than the limit");
	if (++*count > MAX_ELEMENTS)
		broken("more elements than the limit");
	if (!node->name || !node->text || strlen(node->text) > node->text_len)
		broken("name or text missing, or text longer than its length");
	if (node->text[node->text_len] != '\0')
		broken("text not terminated at its length");
	if (len)
		fl_buf_putc(path, '/');
	fl_buf_puts(path, node->name);
	/* Names with '/' cannot be looked up (expat refuses them anyway). */
	findable = findable && first_of_name(node) && !strchr(node->name, '/');
	if (findable && fl_xml_find(root, path->ptr) != node)
		broken("the path of an element does not find it");
	for (const struct fl_xml_node *c = node->children; c; c = c->next) {
		if (c->parent != node)
			broken("a child does not point at its parent");
		check(c, depth + 1, count, path, root, findable);
	}
	fl_buf_truncate(path, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_xml_limits limits = { 16384, MAX_DEPTH, MAX_ELEMENTS };
	struct fl_xml_doc doc;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf path;
	size_t count = 0;

	fl_buf_init(&path, 0);
	if (fl_xml_parse(&doc, (const char *)data, size, &limits, &err) == 0) {
		if (!doc.root || doc.root->parent)
			broken("no root, or a root with a parent");
		check(doc.root, 1, &count, &path, doc.root, true);
	} else if (doc.root || !err.code || !err.msg[0]) {
		broken("an error without a message, or a tree after an error");
	}
	fl_xml_doc_release(&doc);
	fl_buf_release(&path);
	return 0;
}
