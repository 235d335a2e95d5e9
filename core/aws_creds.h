/*
 * AWS base credentials, found in the order the AWS SDKs use: the
 * environment's keys, web identity (STS AssumeRoleWithWebIdentity), the
 * shared credentials file, container credentials, then instance metadata
 * (IMDSv2). A provider keeps the credentials it found and finds them again
 * before they expire, for many threads at once. No secret value (secret key,
 * session token, web identity token, container token) is ever put in an
 * error message; errors name the source and the variable or file instead.
 */
#ifndef FL_AWS_CREDS_H
#define FL_AWS_CREDS_H

#include "core/error.h"

#define FL_AWS_KEY_MAX 256
#define FL_AWS_TOKEN_MAX 8192

/* Refreshed when fewer seconds than this remain. */
#define FL_AWS_CREDS_REFRESH_S 300

struct fl_aws_creds {
	char access_key_id[FL_AWS_KEY_MAX];
	char secret_access_key[FL_AWS_KEY_MAX];
	char session_token[FL_AWS_TOKEN_MAX]; /* "" for long-term keys */
	long long expiration;                 /* seconds since the epoch; 0: does not expire */
	const char *source;                   /* "environment", "web identity", ... (static) */
};

/*
 * Where the variables come from: get(name, payload) returns the value or
 * NULL. Tests pass a table instead of changing the process's environment.
 */
struct fl_aws_env {
	const char *(*get)(const char *name, void *payload);
	void *payload;
};

/* The process's environment (getenv). */
extern const struct fl_aws_env fl_aws_env_process;

/* The variable name of env (NULL: the process's), or NULL when unset or empty. */
const char *fl_aws_env_get(const struct fl_aws_env *env, const char *name);

/* Replaces every occurrence of secret (4 bytes or more) in s with "***". */
void fl_aws_blank(char *s, const char *secret);

/*
 * Finds credentials once, through the chain. A source that is configured
 * but fails (an STS refusal, a profile named by AWS_PROFILE that the file
 * lacks, half a key pair) is an error, and the sources after it are not
 * tried, as in the SDKs. now is the time web identity session names use.
 * FL_ENOTFOUND when no source has credentials; FL_EINPUT for a configuration
 * error; FL_EREFUSED when a service refused (400, 401, 403: a wrong token,
 * a role that may not be assumed); FL_EIO when a service could not be
 * reached, failed, or answered what cannot be read.
 */
int fl_aws_creds_resolve(struct fl_aws_creds *out, const struct fl_aws_env *env, long long now,
			 struct fl_error *err);

struct fl_aws_creds_provider;

/* A provider reading env (copied; its payload must outlive the provider). */
struct fl_aws_creds_provider *fl_aws_creds_provider_new(const struct fl_aws_env *env);
void fl_aws_creds_provider_free(struct fl_aws_creds_provider *p);

/*
 * Copies the provider's credentials into out, finding them first when it
 * has none or fewer than FL_AWS_CREDS_REFRESH_S seconds remain before they
 * expire at now. When a refresh fails but the old credentials have not
 * expired yet, they are returned (0) and the next call tries again. Safe
 * from many threads; one refreshes while the others wait.
 */
int fl_aws_creds_get(struct fl_aws_creds *out, struct fl_aws_creds_provider *p, long long now,
		     struct fl_error *err);

/* Overwrites the secret parts of creds with zeroes. */
void fl_aws_creds_wipe(struct fl_aws_creds *creds);

/*
 * Credentials packed into one allocation of their own size (a session
 * token is about 1 KiB; struct fl_aws_creds holds room for 8 KiB), for
 * keeping one set per account of a large fleet.
 */
struct fl_aws_creds_packed {
	char *buf;            /* the key id, the secret and the token, each ending in a NUL; NULL: none */
	size_t len;
	long long expiration;
	const char *source;
};

/* Packs c into out, whose earlier contents are released first. */
void fl_aws_creds_pack(struct fl_aws_creds_packed *out, const struct fl_aws_creds *c);
/* The packed credentials p (which must hold some) as a struct fl_aws_creds. */
void fl_aws_creds_unpack(struct fl_aws_creds *out, const struct fl_aws_creds_packed *p);
/* Wipes and frees what p holds; p holds nothing afterwards. */
void fl_aws_creds_packed_release(struct fl_aws_creds_packed *p);

#endif
