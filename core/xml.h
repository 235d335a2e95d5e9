/*
 * XML with libexpat, the only file that includes expat.h: a document read
 * under limits (size, depth, element count) into a small read-only tree of
 * elements, each with its local name (namespaces dropped) and its own
 * character data, and text looked up by a path of local names. A DOCTYPE or
 * an entity declaration is refused: nothing is ever expanded (XML bombs).
 * AWS query APIs (STS, and the errors of several others) answer in XML.
 */
#ifndef FL_XML_H
#define FL_XML_H

#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"

struct fl_xml_node {
	const char *name;             /* local name, without prefix or namespace */
	const char *text;             /* its own character data (CDATA included), NUL-terminated */
	size_t text_len;
	struct fl_xml_node *parent;   /* NULL for the root */
	struct fl_xml_node *children; /* the first child element, or NULL */
	struct fl_xml_node *next;     /* the next sibling element, or NULL */
};

struct fl_xml_limits {
	size_t max_bytes;    /* the whole document (default 1 MiB) */
	unsigned max_depth;  /* elements nested (default 32) */
	size_t max_elements; /* elements in all (default 10000) */
};

struct fl_xml_doc {
	struct fl_arena arena;
	struct fl_xml_node *root;
};

/*
 * Parses xml[0..len) into out (initialised here; fl_xml_doc_release frees
 * it, also after an error). limits may be NULL, and its zero fields take the
 * defaults. FL_ELIMIT past a limit; FL_EINPUT for anything not well-formed,
 * and for a DOCTYPE or an entity declaration, with the line and column in
 * the message. The text itself is never quoted in a message.
 */
int fl_xml_parse(struct fl_xml_doc *out, const char *xml, size_t len,
		 const struct fl_xml_limits *limits, struct fl_error *err);

void fl_xml_doc_release(struct fl_xml_doc *doc);

/*
 * The element at path under from: local names separated by '/', the first
 * naming from itself ("AssumeRoleResponse/AssumeRoleResult/Credentials").
 * At each step the first child of that name is taken. NULL when absent.
 */
const struct fl_xml_node *fl_xml_find(const struct fl_xml_node *from, const char *path);

/* The text of the element at path from the document's root, or NULL. */
const char *fl_xml_text(const struct fl_xml_doc *doc, const char *path);

#endif
