// SPDX-License-Identifier: GPL-2.0-only
/*
 * nested_qmp: the smallest QMP client the nested-VMM leg needs in the check
 * guest (L1), which has no python or socat.  Built with gcc -static on the
 * host, packed as /nested/qmp (rig/initramfs.sh).
 *
 *   qmp SOCKET COMMAND-JSON [EVENT [MATCH [TIMEOUT]]]
 *
 * Connects to QEMU's QMP unix socket, leaves capability negotiation, sends
 * COMMAND-JSON (one line) and prints every line QEMU sends.  It exits 0 once
 * the command returned ("return") and, if EVENT is given, once an event
 * line names EVENT (and holds MATCH, e.g. the device's id); 1 on an "error"
 * reply, on EOF or after TIMEOUT seconds (default 120).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

static int send_line(int fd, const char *s)
{
	size_t len = strlen(s);

	printf("-> %s\n", s);
	fflush(stdout);
	return write(fd, s, len) == (ssize_t)len && write(fd, "\n", 1) == 1 ? 0 : -1;
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
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[8192];
	int fd, got = 0, dummy = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SOCKET COMMAND-JSON [EVENT [MATCH [TIMEOUT]]]\n", argv[0]);
		return 2;
	}
	alarm(argc > 5 ? atoi(argv[5]) : 120);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "qmp: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* The greeting, then leave negotiation mode. */
	if (!next_line(fd, line, sizeof(line)))
		return 1;
	printf("<- %s\n", line);
	if (send_line(fd, "{\"execute\": \"qmp_capabilities\"}") ||
	    reply(fd, NULL, NULL, &dummy))
		return 1;
	if (send_line(fd, argv[2]) || reply(fd, event, match, &got))
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
