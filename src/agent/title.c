/* SPDX-License-Identifier: Apache-2.0 */
/* agent/title.c: a process's name and title (see title.h). */
#include <string.h>
#include <sys/prctl.h>

#include "title.h"
#include "banned.h"

void proc_title_init(struct proc_title *t, int argc, char **argv)
{
	char *end;

	t->area = NULL;
	t->size = 0;
	if (argc < 1 || !argv || !argv[0])
		return;
	/* the kernel lays the arguments out back to back; stop at the first one that is not (moved by someone) */
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	t->area = argv[0];
	t->size = (size_t)(end - argv[0]);
}

void proc_title_set(const struct proc_title *t, const char *comm, const char *title)
{
	size_t n;

	(void)prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (!t || !t->area || t->size < 2)
		return;
	n = strlen(title);
	if (n > t->size - 1)
		n = t->size - 1;
	/* NUL-filled to the end: the last byte stays NUL, so the kernel reports exactly this area, and tools show
	 * the title without the old arguments after it */
	memset(t->area, 0, t->size);
	memcpy(t->area, title, n);
}
