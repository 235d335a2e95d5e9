/* Names and durations; see syntax.h. */
#include "reconcile/fleet/syntax.h"

#include <stdint.h>
#include <string.h>

#include "core/banned.h"

bool fl_duration_parse(unsigned *out, const char *s)
{
	static const char units[] = "dhms";
	static const uint64_t secs[] = { 86400, 3600, 60, 1 };
	uint64_t total = 0;
	size_t next_unit = 0;

	if (!*s)
		return false;
	while (*s) {
		uint64_t n = 0;
		const char *u;
		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (uint64_t)(*s - '0');
			if (n > UINT32_MAX)
				return false;
		}
		u = *s ? strchr(units + next_unit, *s) : NULL;
		if (!u)
			return false;
		next_unit = (size_t)(u - units) + 1;
		total += n * secs[u - units];
		if (total > UINT32_MAX)
			return false;
		s++;
	}
	*out = (unsigned)total;
	return true;
}

bool fl_tenant_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && i > 0);
		if (!ok)
			return false;
	}
	return true;
}

bool fl_ident_valid(const char *s, size_t len)
{
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
			return false;
		if (ch == '.' && i > 0 && s[i - 1] == '.')
			return false;
	}
	return true;
}

/* Three parts of [A-Za-z0-9]{1,64} joined by "::". */
static bool cfn_type_valid(const char *s, size_t len)
{
	size_t parts = 1, run = 0;
	if (len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == ':') {
			if (run == 0 || i + 1 >= len || s[i + 1] != ':')
				return false;
			parts++;
			run = 0;
			i++;
			continue;
		}
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum || ++run > 64)
			return false;
	}
	return parts == 3 && run > 0;
}

bool fl_kind_valid(const char *s, size_t len)
{
	return fl_ident_valid(s, len) || cfn_type_valid(s, len);
}
