// SPDX-License-Identifier: GPL-2.0-only
/*
 * nested_qmp: the smallest QMP client the nested-VMM leg needs in the check
 * guest (L1), which has no python or socat, and no AF_UNIX either (its
 * kernel has no networking): QEMU's QMP monitor is on a pipe chardev
 * (-chardev pipe,path=P: QEMU reads P.in and writes P.out, two FIFOs it
 * holds open for both, so the session outlives each call of this client).
 * Built with gcc -static on the host, packed as /nested/qmp
 * (rig/initramfs.sh).
 *
 *   qmp P COMMAND-JSON [EVENT [MATCH [TIMEOUT]]]
 *
 * Sends qmp_capabilities (its first call leaves negotiation mode, QEMU's
 * greeting on the way; a later call gets an error for it, which it
 * ignores), then COMMAND-JSON (one line), and prints every line QEMU sends.
 * It exits 0 once the command returned ("return") and, if EVENT is given,
 * once an event line names EVENT (and holds MATCH, e.g. the device's id);
 * 1 on an "error" reply to the command, on EOF or after TIMEOUT seconds
 * (default 120).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];
static size_t used;

/* The next line from @fd into @line (NUL-terminated, no newline); 0 on EOF. */
static int next_line(int fd, char *line, size_t len)
{
	char *nl;
	ssize_t r;
	size_t n;

	while (!(nl = memchr(buf, '\n', used))) {
		if (used == sizeof(buf))
			used = 0;
		r = read(fd, buf + used, sizeof(buf) - used);
		if (r <= 0)
			return 0;
		used += r;
	}
	n = nl - buf;
	if (n >= len)
		n = len - 1;
	memcpy(line, buf, n);
	line[n] = 0;
	used -= nl + 1 - buf;
	memmove(buf, nl + 1, used);
	return 1;
}

static int in_fd = -1;

static int send_line(const char *s)
{
	size_t len = strlen(s);

	printf("-> %s\n", s);
	fflush(stdout);
	return write(in_fd, s, len) == (ssize_t)len && write(in_fd, "\n", 1) == 1 ? 0 : -1;
}

/* Read until the reply to the last command; events on the way count too. */
static int reply(int fd, const char *event, const char *match, int *got_event)
{
	char line[8192];

	while (next_line(fd, line, sizeof(line))) {
		printf("<- %s\n", line);
		fflush(stdout);
		if (event && strstr(line, "\"event\"") && strstr(line, event) &&
		    (!match || strstr(line, match)))
			*got_event = 1;
		if (strstr(line, "\"error\""))
			return -1;
		if (strstr(line, "\"return\""))
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *event = argc > 3 ? argv[3] : NULL;
	const char *match = argc > 4 ? argv[4] : NULL;
	char line[8192], path[4096];
	int fd, got = 0, dummy = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PIPE COMMAND-JSON [EVENT [MATCH [TIMEOUT]]]\n", argv[0]);
		return 2;
	}
	alarm(argc > 5 ? atoi(argv[5]) : 120);
	snprintf(path, sizeof(path), "%s.out", argv[1]);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "qmp: %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s.in", argv[1]);
	in_fd = open(path, O_WRONLY);
	if (in_fd < 0) {
		fprintf(stderr, "qmp: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Leave negotiation mode, or be told it was left already. */
	if (send_line("{\"execute\": \"qmp_capabilities\"}"))
		return 1;
	reply(fd, NULL, NULL, &dummy);
	if (send_line(argv[2]) || reply(fd, event, match, &got))
		return 1;
	while (event && !got) {
		if (!next_line(fd, line, sizeof(line)))
			return 1;
		printf("<- %s\n", line);
		fflush(stdout);
		if (strstr(line, "\"event\"") && strstr(line, event) &&
		    (!match || strstr(line, match)))
			got = 1;
	}
	return 0;
}
