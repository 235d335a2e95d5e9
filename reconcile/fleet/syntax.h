/*
 * The small rules of names and durations that the fleet parser and the
 * drivers share: what may name a tenant, a region, a kind or a resource
 * (names that reach a file system or a URL, SPEC 9), and how a duration is
 * written. Kept apart from the fleet parser so drivers need not link it.
 */
#ifndef FL_SYNTAX_H
#define FL_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

/* Parses a duration like 30s, 15m, 2h, 1h30m or 1d (units in decreasing order) into seconds. */
bool fl_duration_parse(unsigned *out, const char *s);

/* True when name is a valid tenant name: [a-z0-9][a-z0-9-]{0,62}. */
bool fl_tenant_name_valid(const char *name, size_t len);
/* True when s may name a region, kind or resource: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, no "..". */
bool fl_ident_valid(const char *s, size_t len);
/*
 * True when s may be a resource's kind: a name as fl_ident_valid, or a
 * CloudFormation type name (AWS::<Service>::<Type>: three parts of
 * [A-Za-z0-9]{1,64} joined by "::"), which the aws driver manages through
 * Cloud Control.
 */
bool fl_kind_valid(const char *s, size_t len);
#define FL_KIND_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..', or a type name like AWS::S3::Bucket"

#endif
