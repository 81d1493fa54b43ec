/* SPDX-License-Identifier: Apache-2.0 */
/* tests/fuzz/replay.c: runs every file of a corpus directory through LLVMFuzzerTestOneInput, so
 * the corpora are regression tests under CTest with any compiler. Exit 0 when all ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	struct dirent **names = NULL;
	int n, ran = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	n = scandir(argv[1], &names, NULL, alphasort);
	if (n < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096], *data = NULL;
		size_t len = 0;

		if (names[i]->d_name[0] != '.' &&
		    str_printf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name) == 0 &&
		    fs_read_file(path, 16 << 20, &data, &len) == 0) {
			LLVMFuzzerTestOneInput((const uint8_t *)data, len);
			free(data);
			ran++;
		}
		free(names[i]);
	}
	free(names);
	printf("replayed %d inputs from %s\n", ran, argv[1]);
	return ran > 0 ? 0 : 1;
}
