/*
 * Tests for core/xml.c: documents that read (namespaces, prefixes, CDATA,
 * predefined and character references, siblings), documents refused
 * (malformed, a DOCTYPE or entity of any kind, too deep, too large, too
 * many elements) with the code and message expected, and path lookups that
 * find nothing. Each table row names its case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/xml.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char sts_answer[] =
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <AssumeRoleWithWebIdentityResult>\n"
	"    <Credentials>\n"
	"      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
	"      <SecretAccessKey>wJalr/K7MDENG+bPxRfiCY</SecretAccessKey>\n"
	"      <SessionToken>FwoGZXIvYXdzE</SessionToken>\n"
	"      <Expiration>2026-12-06T11:00:00Z</Expiration>\n"
	"    </Credentials>\n"
	"  </AssumeRoleWithWebIdentityResult>\n"
	"  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n"
	"</AssumeRoleWithWebIdentityResponse>\n";

struct good_case {
	const char *name;
	const char *xml;
	const char *path;
	const char *text; /* NULL: the path is absent */
};

static const struct good_case good_cases[] = {
	{ "sts answer", sts_answer,
	  "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId",
	  "ASIAEXAMPLE" },
	{ "sts expiration", sts_answer,
	  "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/Expiration",
	  "2026-12-06T11:00:00Z" },
	{ "sibling after nested", sts_answer,
	  "AssumeRoleWithWebIdentityResponse/ResponseMetadata/RequestId", "ad4156e9" },
	{ "root alone", "<a>x</a>", "a", "x" },
	{ "empty element", "<a><b/></a>", "a/b", "" },
	{ "prefixed names", "<p:a xmlns:p=\"urn:x\"><p:b>1</p:b></p:a>", "a/b", "1" },
	{ "two namespaces", "<a xmlns=\"urn:1\"><b xmlns=\"urn:2\">2</b></a>", "a/b", "2" },
	{ "cdata", "<a><b><![CDATA[<not> & markup]]></b></a>", "a/b", "<not> & markup" },
	{ "references", "<a>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</a>", "a", "<&>\"'AB" },
	{ "first of siblings", "<a><b>1</b><b>2</b></a>", "a/b", "1" },
	{ "own text only", "<a>x<b>y</b>z</a>", "a", "xz" },
	{ "declaration and comments", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!-- c --><a>v</a>", "a", "v" },
	{ "utf-8", "<a>\xc3\xa9t\xc3\xa9</a>", "a", "\xc3\xa9t\xc3\xa9" },
	{ "missing leaf", sts_answer, "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Nope", NULL },
	{ "wrong root", "<a><b>1</b></a>", "b", NULL },
	{ "path past a leaf", "<a><b>1</b></a>", "a/b/c", NULL },
	{ "prefix of a name", "<a><bc>1</bc></a>", "a/b", NULL },
	{ "empty step", "<a><b>1</b></a>", "a//b", NULL },
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		struct fl_xml_doc doc;
		struct fl_error err = FL_ERROR_INIT;
		int rc = fl_xml_parse(&doc, c->xml, strlen(c->xml), NULL, &err);

		if (rc != 0)
			fail_msg("%s: parse failed with %d: %s", c->name, rc, err.msg);
		const char *text = fl_xml_text(&doc, c->path);
		if (!c->text && text)
			fail_msg("%s: found '%s' at %s", c->name, text, c->path);
		if (c->text && (!text || strcmp(text, c->text) != 0))
			fail_msg("%s: got '%s', expected '%s'", c->name, text ? text : "(null)", c->text);
		fl_xml_doc_release(&doc);
	}
}

struct bad_case {
	const char *name;
	const char *xml;
	struct fl_xml_limits limits;
	int code;
	const char *msg; /* a substring of the message */
};

static const struct bad_case bad_cases[] = {
	{ "empty", "", { 0, 0, 0 }, FL_EINPUT, "no element found" },
	{ "text only", "hello", { 0, 0, 0 }, FL_EINPUT, "line 1, column 1: syntax error" },
	{ "unclosed", "<a><b></a>", { 0, 0, 0 }, FL_EINPUT, "mismatched tag" },
	{ "truncated", "<a><b>1</b>", { 0, 0, 0 }, FL_EINPUT, "no element found" },
	{ "two roots", "<a/><b/>", { 0, 0, 0 }, FL_EINPUT, "junk after document element" },
	{ "unbound prefix", "<p:a/>", { 0, 0, 0 }, FL_EINPUT, "unbound prefix" },
	{ "bad utf-8", "<a>\xff</a>", { 0, 0, 0 }, FL_EINPUT, "not well-formed" },
	{ "position", "<a>\n  <b></c>\n</a>", { 0, 0, 0 }, FL_EINPUT, "line 2, column 8: mismatched tag" },
	{ "undeclared entity", "<a>&x;</a>", { 0, 0, 0 }, FL_EINPUT, "undefined entity" },
	{ "doctype", "<!DOCTYPE a><a/>", { 0, 0, 0 }, FL_EINPUT, "a DOCTYPE is not allowed" },
	{ "xml bomb",
	  "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>",
	  { 0, 0, 0 }, FL_EINPUT, "xml: line 1, column 37: a DOCTYPE is not allowed" },
	{ "external entity",
	  "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>", { 0, 0, 0 }, FL_EINPUT,
	  "a DOCTYPE is not allowed" },
	{ "too deep", "<a><b><c><d/></c></b></a>", { 0, 3, 0 }, FL_ELIMIT,
	  "line 1, column 10: elements nested too deep" },
	{ "too large", "<a>0123456789</a>", { 10, 0, 0 }, FL_ELIMIT,
	  "xml: document of 17 bytes exceeds the limit of 10" },
	{ "too many elements", "<a><b/><b/><b/></a>", { 0, 0, 3 }, FL_ELIMIT, "too many elements" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct fl_xml_doc doc;
		struct fl_error err = FL_ERROR_INIT;
		int rc = fl_xml_parse(&doc, c->xml, strlen(c->xml), &c->limits, &err);

		if (rc != c->code)
			fail_msg("%s: got %d (%s), expected %d", c->name, rc, err.msg, c->code);
		if (!strstr(err.msg, c->msg))
			fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->msg);
		if (doc.root)
			fail_msg("%s: a root after an error", c->name);
		fl_xml_doc_release(&doc);
	}
}

/* Exactly at each limit reads; one past it does not. */
static void test_limits_exact(void **state)
{
	struct fl_xml_limits lim = { 17, 3, 3 };
	struct fl_xml_doc doc;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	assert_int_equal(fl_xml_parse(&doc, "<a><b><c/></b></a>", 18, &(struct fl_xml_limits){ 18, 3, 3 }, &err), 0);
	fl_xml_doc_release(&doc);
	assert_int_equal(fl_xml_parse(&doc, "<a>0123456789</a>", 17, &lim, &err), 0);
	assert_string_equal(fl_xml_text(&doc, "a"), "0123456789");
	fl_xml_doc_release(&doc);
}

/* A deep document stops at the depth limit, not at the stack's end. */
static void test_very_deep(void **state)
{
	struct fl_buf xml;
	struct fl_xml_doc doc;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	fl_buf_init(&xml, 0);
	for (int i = 0; i < 100000; i++)
		fl_buf_puts(&xml, "<a>");
	assert_int_equal(fl_xml_parse(&doc, xml.ptr, xml.len, &(struct fl_xml_limits){ 1 << 20, 0, 0 }, &err),
			 FL_ELIMIT);
	assert_non_null(strstr(err.msg, "nested too deep"));
	fl_xml_doc_release(&doc);
	fl_buf_release(&xml);
}

/* The tree's links: parent, children in order, siblings. */
static void test_tree(void **state)
{
	const char *xml = "<r><a>1</a><b><c>2</c></b><a>3</a></r>";
	struct fl_xml_doc doc;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	assert_int_equal(fl_xml_parse(&doc, xml, strlen(xml), NULL, &err), 0);
	const struct fl_xml_node *r = doc.root;
	assert_string_equal(r->name, "r");
	assert_null(r->parent);
	const struct fl_xml_node *a = r->children;
	assert_string_equal(a->name, "a");
	assert_string_equal(a->next->name, "b");
	assert_string_equal(a->next->next->text, "3");
	assert_null(a->next->next->next);
	assert_ptr_equal(fl_xml_find(a->next, "b/c")->parent, a->next);
	assert_null(fl_xml_find(NULL, "r"));
	assert_null(fl_xml_text(&doc, NULL));
	fl_xml_doc_release(&doc);
	fl_xml_doc_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits_exact),
		cmocka_unit_test(test_very_deep),
		cmocka_unit_test(test_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
