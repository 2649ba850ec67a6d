// SPDX-License-Identifier: GPL-2.0
#include "assign_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "grow.h"

#define STATE_TMP ".assignments.tmp"

const char *state_dir(const char *dir)
{
	const char *env;

	if (dir && *dir)
		return dir;
	env = getenv("MKTME_STATE_DIR");
	return env && *env ? env : STATE_DIR_DEFAULT;
}

int cgroup_path_normalize(const char *in, char *out, size_t len, char *err, size_t errlen)
{
	size_t o = 0;
	int depth = 0;

	if (in[0] != '/') {
		snprintf(err, errlen, "\"%s\" is not an absolute path (cgroup v2 paths start with /, relative to the cgroup2 mount)",
			 in);
		return -1;
	}
	for (const char *c = in; *c;) {
		size_t n;

		while (*c == '/')
			c++;
		if (!*c)
			break;
		n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(err, errlen, "\"%s\": \".\" and \"..\" are not allowed", in);
			return -1;
		}
		if (o + 1 + n + 1 > len || o + 1 + n > POLICY_MAX_PATH) {
			snprintf(err, errlen, "path longer than %d bytes", POLICY_MAX_PATH);
			return -1;
		}
		out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
		c += n;
		depth++;
	}
	if (depth >= MKTME_MAX_DEPTH) {
		snprintf(err, errlen, "\"%s\" is %d levels deep (at most %d)", in, depth,
			 MKTME_MAX_DEPTH - 1);
		return -1;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/*
 * Someone other than root and us could swap or rewrite it: its owner is
 * another user, or group or others may write it (a sticky directory only
 * lets them replace their own entries).
 */
static const char *unsafe(const struct stat *st, bool dir)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "is owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(dir && (st->st_mode & S_ISVTX)))
		return "is writable by group or others";
	return NULL;
}

/* Every ancestor of absolute @dir (not @dir itself). */
static int check_ancestors(const char *dir, struct diag *d)
{
	char path[PATH_MAX];
	struct stat st;
	const char *why;
	size_t n = strlen(dir);

	if (n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	for (;;) {
		char *slash = strrchr(path, '/');

		if (!slash)
			return 0;
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st)) {
			diag_set(d, dir, (struct pos){ 0, 0 }, "cannot check %s: %s", path,
				 strerror(errno));
			return -errno;
		}
		/* Ancestors are shared by design: only who may replace ours counts. */
		why = st.st_uid != 0 && st.st_uid != geteuid() ? "is owned by another user" :
		      (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX) ?
		      "is writable by group or others" : NULL;
		if (why) {
			diag_set(d, dir, (struct pos){ 0, 0 },
				 "unsafe state directory: its ancestor %s %s (uid %u, mode %04o), so another user could replace the assignments. Nothing was changed.",
				 path, why, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
			return -EPERM;
		}
		if (!strcmp(path, "/"))
			return 0;
	}
}

int state_dir_open(const char *dir, bool create, bool lock, struct diag *d)
{
	char abs[PATH_MAX], cwd[PATH_MAX / 2];
	struct stat st;
	const char *why;
	int fd, err, n;

	memset(d, 0, sizeof(*d));
	if (dir[0] == '/')
		n = snprintf(abs, sizeof(abs), "%s", dir);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
	else
		n = -1;
	if (n < 0 || (size_t)n >= sizeof(abs)) {
		diag_set(d, dir, (struct pos){ 0, 0 }, "state directory: path too long");
		return -ENAMETOOLONG;
	}
	err = check_ancestors(abs, d);
	if (err)
		return err;
	if (create && mkdir(abs, 0700) && errno != EEXIST) {
		err = -errno;
		diag_set(d, abs, (struct pos){ 0, 0 }, "cannot create the state directory: %s. Nothing was changed.",
			 strerror(errno));
		return err;
	}
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err != -ENOENT)
			diag_set(d, abs, (struct pos){ 0, 0 }, "cannot open the state directory: %s. Nothing was changed.",
				 strerror(errno));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	why = unsafe(&st, false);
	if (why) {
		diag_set(d, abs, (struct pos){ 0, 0 },
			 "unsafe state directory: it %s (uid %u, mode %04o; expected root and 0700). Nothing was changed.",
			 why, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (lock && flock(fd, LOCK_EX)) {
		err = -errno;
		diag_set(d, abs, (struct pos){ 0, 0 }, "cannot lock the state directory: %s", strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].cgroup);
	free(s->e);
	s->e = NULL;
	s->n = s->cap = 0;
}

long state_find(const struct state *s, const char *cgroup, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].cgroup, cgroup) && !strcmp(s->e[i].key, key))
			return (long)i;
	return -1;
}

int state_add(struct state *s, const char *cgroup, const char *key, uint32_t id,
	      uint64_t assigned_at)
{
	struct state_entry *e;

	if (grow(&s->e, &s->cap, s->n, sizeof(*s->e)))
		return -ENOMEM;
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	e->cgroup = strdup(cgroup);
	if (!e->cgroup)
		return -ENOMEM;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->id = id;
	e->assigned_at = assigned_at;
	s->n++;
	return 0;
}

int state_copy(const struct state *s, long skip, struct state *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->path, s->path, sizeof(out->path));
	out->exists = s->exists;
	for (size_t i = 0; i < s->n; i++) {
		if ((long)i != skip &&
		    state_add(out, s->e[i].cgroup, s->e[i].key, s->e[i].id, s->e[i].assigned_at)) {
			state_free(out);
			return -ENOMEM;
		}
		if ((long)i != skip)
			out->e[out->n - 1].owner_any = s->e[i].owner_any;
	}
	return 0;
}

uint32_t state_next_id(const struct state *s)
{
	uint32_t id = MKTME_ASSIGN_ID_BASE;

	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].id >= id)
			id = s->e[i].id + 1;
	return id;
}

/* ---- reading ------------------------------------------------------------ */

/* The column of "@field" in @line (the whole object if absent), from 1. */
static int col_of(const char *line, const char *field)
{
	char q[64];
	const char *at;

	snprintf(q, sizeof(q), "\"%s\"", field);
	at = strstr(line, q);
	return at ? (int)(at - line) + 1 : 1;
}

static int bad(struct state *s, struct diag *d, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int bad(struct state *s, struct diag *d, int line, int col, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_set(d, s->path, (struct pos){ line, col },
		 "corrupt state file: %s (nothing was changed; fix or remove the line, or the file to drop every assignment)",
		 msg);
	return -1;
}

static bool get_int(struct json_object *o, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
	struct json_object *f;

	if (!json_object_object_get_ex(o, k, &f) || !json_object_is_type(f, json_type_int))
		return false;
	errno = 0;
	*v = json_object_get_int64(f);
	return !errno && *v >= lo && *v <= hi;
}

/* One assignment line into @s. */
static int parse_entry(struct state *s, struct json_object *o, const char *line, int ln,
		       struct diag *d)
{
	struct json_object *f;
	char norm[POLICY_MAX_PATH + 2], err[256];
	const char *cg, *key;
	int64_t id, at;
	bool owner_any;

	json_object_object_foreach(o, k, v) {
		(void)v;
		if (strcmp(k, "cgroup") && strcmp(k, "key") && strcmp(k, "id") &&
		    strcmp(k, "assigned_at") && strcmp(k, "owner"))
			return bad(s, d, ln, col_of(line, k),
				   "unknown field \"%s\" (expected cgroup, key, id, assigned_at, owner)", k);
	}
	if (!json_object_object_get_ex(o, "cgroup", &f) || !json_object_is_type(f, json_type_string))
		return bad(s, d, ln, col_of(line, "cgroup"), "\"cgroup\": a string is required");
	cg = json_object_get_string(f);
	if (strlen(cg) != (size_t)json_object_get_string_len(f) ||
	    cgroup_path_normalize(cg, norm, sizeof(norm), err, sizeof(err)))
		return bad(s, d, ln, col_of(line, "cgroup"), "\"cgroup\": %s",
			   strlen(cg) != (size_t)json_object_get_string_len(f) ? "contains a NUL byte" : err);
	if (strcmp(norm, cg))
		return bad(s, d, ln, col_of(line, "cgroup"), "\"cgroup\": \"%s\" is not written as \"%s\"",
			   cg, norm);
	if (!json_object_object_get_ex(o, "key", &f) || !json_object_is_type(f, json_type_string))
		return bad(s, d, ln, col_of(line, "key"), "\"key\": a string is required");
	key = json_object_get_string(f);
	if (!key[0] || strlen(key) >= MKTME_NAME_LEN || strchr(key, '*') ||
	    strlen(key) != (size_t)json_object_get_string_len(f))
		return bad(s, d, ln, col_of(line, "key"),
			   "\"key\": \"%s\" is not a key name (1 to 63 bytes, no \"*\")", key);
	if (!get_int(o, "id", MKTME_ASSIGN_ID_BASE, UINT32_MAX, &id))
		return bad(s, d, ln, col_of(line, "id"),
			   "\"id\": an integer from 65536 to 4294967295 is required");
	if (!get_int(o, "assigned_at", 0, INT64_MAX, &at))
		return bad(s, d, ln, col_of(line, "assigned_at"),
			   "\"assigned_at\": a non-negative integer is required");
	if (state_find(s, norm, key) >= 0)
		return bad(s, d, ln, 1, "key \"%s\" in %s is assigned twice", key, norm);
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].id == id)
			return bad(s, d, ln, col_of(line, "id"), "rule id %u is used twice",
				   (unsigned int)id);
	}
	if (s->n >= MKTME_MAX_ASSIGN)
		return bad(s, d, ln, 1, "more than %d assignments", MKTME_MAX_ASSIGN);
	/* Only "any" is ever written: "subtree" is the default, not a spelling. */
	owner_any = json_object_object_get_ex(o, "owner", &f);
	if (owner_any &&
	    (!json_object_is_type(f, json_type_string) || strcmp(json_object_get_string(f), "any")))
		return bad(s, d, ln, col_of(line, "owner"), "\"owner\": only \"any\" is allowed");
	if (state_add(s, norm, key, id, at)) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	s->e[s->n - 1].owner_any = owner_any;
	return 0;
}

static int parse(struct state *s, char *buf, size_t len, struct diag *d)
{
	struct json_tokener *tok = json_tokener_new();
	int ln = 0, ret = -1;
	char *line = buf;

	if (!tok) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	if (len && buf[len - 1] != '\n') {
		for (char *c = buf; c < buf + len; c++)
			ln += *c == '\n';
		bad(s, d, ln + 1, 1, "the last line is not complete (no newline)");
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		for (char *c = buf; *c; c++)
			ln += *c == '\n';
		bad(s, d, ln + 1, 1, "a NUL byte");
		goto out;
	}
	for (; line < buf + len; line = strchr(line, '\n') + 1) {
		size_t n = strcspn(line, "\n");
		struct json_object *o;
		int r;

		ln++;
		line[n] = '\0';
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, (int)n);
		if (!o || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != n) {
			enum json_tokener_error e = json_tokener_get_error(tok);

			bad(s, d, ln, (int)json_tokener_get_parse_end(tok) + 1, "not one JSON object: %s",
			    o && e == json_tokener_success ? "text after the object" :
			    e == json_tokener_continue ? "the line ends inside it" :
			    json_tokener_error_desc(e));
			json_object_put(o);
			line[n] = '\n';
			goto out;
		}
		if (!json_object_is_type(o, json_type_object)) {
			r = bad(s, d, ln, 1, "not a JSON object");
		} else if (ln == 1) {
			int64_t v;

			r = json_object_object_length(o) == 1 && get_int(o, "mktme_assignments", 1, 1, &v) ?
			    0 : bad(s, d, ln, 1, "the first line must be {\"mktme_assignments\":1}");
		} else {
			r = parse_entry(s, o, line, ln, d);
		}
		json_object_put(o);
		line[n] = '\n';
		if (r)
			goto out;
	}
	if (ln == 0) {
		bad(s, d, 1, 1, "empty (even no assignments start with {\"mktme_assignments\":1})");
		goto out;
	}
	ret = 0;
out:
	json_tokener_free(tok);
	return ret;
}

int state_read(int dirfd, const char *dir, struct state *s, struct diag *d)
{
	struct stat st;
	const char *why;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret = -1;

	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, STATE_FILE);
	fd = openat(dirfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "cannot open: %s%s", strerror(errno),
			 errno == ELOOP ? " (a symbolic link: refused)" : "");
		return -1;
	}
	if (fstat(fd, &st)) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "cannot stat: %s", strerror(errno));
		goto out;
	}
	why = S_ISREG(st.st_mode) ? unsafe(&st, false) : "is not a regular file";
	if (why) {
		diag_set(d, s->path, (struct pos){ 0, 0 },
			 "unsafe state file: it %s (uid %u, mode %04o; expected root and 0600). Nothing was changed.",
			 why, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > STATE_MAX_FILE) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "corrupt state file: %lld bytes (at most %d)",
			 (long long)st.st_size, STATE_MAX_FILE);
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		diag_set(d, s->path, (struct pos){ 0, 0 }, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			diag_set(d, s->path, (struct pos){ 0, 0 }, "cannot read: %s",
				 r ? strerror(errno) : "file shrank while read");
			goto out;
		}
		len += r;
	}
	buf[len] = '\0';
	s->exists = true;
	ret = parse(s, buf, len, d);
out:
	if (ret)
		state_free(s);
	free(buf);
	close(fd);
	return ret;
}

int state_load(const char *dir, struct state *s, struct diag *d)
{
	int fd = state_dir_open(dir, false, false, d), ret;

	if (fd == -ENOENT) {
		memset(s, 0, sizeof(*s));
		snprintf(s->path, sizeof(s->path), "%s/%s", dir, STATE_FILE);
		return 0;
	}
	if (fd < 0)
		return -1;
	ret = state_read(fd, dir, s, d);
	close(fd);
	return ret;
}

/* ---- writing ------------------------------------------------------------ */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= w;
	}
	return 0;
}

int state_write(int dirfd, const struct state *s, struct diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int fd = -1, err = -ENOMEM;

	memset(d, 0, sizeof(*d));
	if (!mem)
		goto fail;
	fprintf(mem, "{\"mktme_assignments\":%d}\n", STATE_FORMAT);
	for (size_t i = 0; i < s->n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "cgroup", json_object_new_string(s->e[i].cgroup));
		json_object_object_add(o, "key", json_object_new_string(s->e[i].key));
		json_object_object_add(o, "id", json_object_new_int64(s->e[i].id));
		json_object_object_add(o, "assigned_at", json_object_new_int64(s->e[i].assigned_at));
		if (s->e[i].owner_any)
			json_object_object_add(o, "owner", json_object_new_string("any"));
		fprintf(mem, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	if (fclose(mem))
		goto fail;
	err = 0;	/* from here on, each failure's own errno */
	/* A leftover of a crash is ours (only the lock holder writes). */
	unlinkat(dirfd, STATE_TMP, 0);
	fd = openat(dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) || (err = write_all(fd, buf, len)) || fsync(fd)) {
		err = err ? err : -errno;
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		err = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, STATE_TMP, dirfd, STATE_FILE) || fsync(dirfd)) {
		err = -errno;
		goto fail;
	}
	free(buf);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, STATE_TMP, 0);
	free(buf);
	diag_set(d, s->path, (struct pos){ 0, 0 }, "cannot write: %s. Nothing was changed.",
		 strerror(-err));
	return -1;
}

/* ---- for the compiler ----------------------------------------------------- */

int state_resolve(const struct state *s, const char *cgroup_root, struct assignment **out,
		  size_t *n, size_t *pending)
{
	struct assignment *a = calloc(s->n ? s->n : 1, sizeof(*a));

	*n = *pending = 0;
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		uint64_t id;
		int ret = cgroup_id(cgroup_root, s->e[i].cgroup, &id);

		if (ret == -ENOENT || ret == -ENOTDIR) {
			(*pending)++;
			continue;
		}
		if (ret) {
			free(a);
			return ret;
		}
		a[*n].cgid = id;
		snprintf(a[*n].name, sizeof(a[*n].name), "%s", s->e[i].key);
		a[*n].id = s->e[i].id;
		a[*n].owner_any = s->e[i].owner_any;
		(*n)++;
	}
	*out = a;
	return 0;
}
