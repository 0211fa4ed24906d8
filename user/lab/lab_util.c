// SPDX-License-Identifier: Apache-2.0
/* Small helpers of the lab: arrays, running iproute2, files, random names, labels. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"

void *lab_push(void *arrp, size_t *n, size_t size)
{
	void **arr = arrp;
	char *p = realloc(*arr, (*n + 1) * size);

	if (!p) {
		fprintf(stderr, "skiff-lab: out of memory\n");
		abort();
	}
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

void lab_remove_at(void *arr, size_t *n, size_t size, size_t i)
{
	char *p = arr;

	memmove(p + i * size, p + (i + 1) * size, (*n - i - 1) * size);
	(*n)--;
}

/* Run a command given as one line of space-separated words (no shell, no quoting: every
 * argument the lab passes is a name or an address). stdout is dropped; stderr is kept and
 * printed with the command when it fails, unless quiet. */
static int run_line(bool quiet, const char *line)
{
	char *buf = strdup(line), *argv[64], *save = NULL, *w;
	char err[4096];
	int pipefd[2], argc = 0, status, rc = -EIO;
	ssize_t len = 0, r;
	pid_t pid;

	if (!buf || pipe2(pipefd, O_CLOEXEC) < 0) {
		free(buf);
		return -errno;
	}
	for (w = strtok_r(buf, " ", &save); w && argc < 63; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (!argc) { /* a blank command: nothing to run (execvp(NULL) otherwise) */
		close(pipefd[0]);
		close(pipefd[1]);
		free(buf);
		return -EINVAL;
	}
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pipefd[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && len < (ssize_t)sizeof(err) - 1 &&
	       (r = read(pipefd[0], err + len, sizeof(err) - 1 - len)) > 0)
		len += r;
	err[len] = 0;
	close(pipefd[0]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		rc = 0;
	if (rc && !quiet)
		fprintf(stderr, "skiff-lab: `%s` failed: %s%s", line, err,
			len && err[len - 1] == '\n' ? "" : "\n");
	free(buf);
	return rc;
}

int lab_run(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return run_line(false, line);
}

int lab_run_quiet(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return run_line(true, line);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += w;
		len -= w;
	}
	return 0;
}

/* Write `.name.tmp` next to the file, then rename: a reader (skiffd's inotify) sees the old
 * file or the new one, never half of one. */
int lab_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err;

	if (slash)
		lab_fmt(tmp, sizeof(tmp), "%.*s/.%s.tmp", (int)(slash - path), path, slash + 1);
	else
		lab_fmt(tmp, sizeof(tmp), ".%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	err = write_all(fd, data, len);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err) {
		errno = -err;
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	err = -errno;
	fprintf(stderr, "skiff-lab: cannot write %s: %s\n", path, strerror(errno));
	return err;
}

/* Overwrite in place (same inode): used for files bind-mounted into pods, where a rename would
 * leave the pod looking at the old inode. */
int lab_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), err;

	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "skiff-lab: cannot write %s: %s\n", path, strerror(errno));
		return err;
	}
	err = write_all(fd, data, strlen(data));
	close(fd);
	return err;
}

int lab_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	lab_fmt(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int lab_rm_rf(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	char sub[PATH_MAX];
	int err = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		lab_fmt(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lab_rm_rf(sub) < 0)
			err = -EIO;
	}
	closedir(dir);
	if (rmdir(path) < 0)
		return -errno;
	return err;
}

static void random_bytes(unsigned char *b, size_t n)
{
	if (getrandom(b, n, 0) != (ssize_t)n) {
		for (size_t i = 0; i < n; i++)
			b[i] = (unsigned char)random();
	}
}

static void random_from(char *out, size_t n, const char *alphabet)
{
	unsigned char b[64];
	size_t len = strlen(alphabet);

	if (n > sizeof(b))
		n = sizeof(b);
	random_bytes(b, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[b[i] % len];
	out[n] = 0;
}

void lab_random_hex(char *out, size_t n)
{
	random_from(out, n, "0123456789abcdef");
}

void lab_random_alnum(char *out, size_t n)
{
	random_from(out, n, "abcdefghijklmnopqrstuvwxyz0123456789");
}

void lab_uuid4(char out[37])
{
	unsigned char b[16];

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	lab_fmt(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		b[13], b[14], b[15]);
}

/* FNV-1a, 64 bit: stable names (template hashes, slice suffixes) from text. */
unsigned long lab_hash(const char *s)
{
	unsigned long h = 0xcbf29ce484222325UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3UL;
	return h;
}

const char *lab_label_get(const struct lab_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].val;
	return NULL;
}

void lab_label_set(struct lab_labels *l, const char *key, const char *val)
{
	struct lab_kv *kv = NULL;

	for (size_t i = 0; i < l->n && !kv; i++)
		if (!strcmp(l->v[i].key, key))
			kv = &l->v[i];
	if (!kv) {
		kv = lab_push(&l->v, &l->n, sizeof(*kv));
		lab_fmt(kv->key, sizeof(kv->key), "%s", key);
	}
	lab_fmt(kv->val, sizeof(kv->val), "%s", val);
}

void lab_label_del(struct lab_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key)) {
			lab_remove_at(l->v, &l->n, sizeof(*l->v), i);
			return;
		}
}

void lab_labels_copy(struct lab_labels *dst, const struct lab_labels *src)
{
	for (size_t i = 0; i < src->n; i++)
		lab_label_set(dst, src->v[i].key, src->v[i].val);
}

void lab_labels_free(struct lab_labels *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool lab_selector_matches(const struct lab_labels *sel, const struct lab_labels *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = lab_label_get(labels, sel->v[i].key);

		if (!v || strcmp(v, sel->v[i].val))
			return false;
	}
	return true;
}

void lab_path(char *out, const struct lab *lab, const char *sub)
{
	lab_fmt(out, PATH_MAX, "%s/%s", lab->state_dir, sub);
}

int lab_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
