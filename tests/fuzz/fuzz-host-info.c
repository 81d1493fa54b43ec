/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-host-info: the upstream host_info parser and identity validation (AGENT.md §4) never crash, and a
 * resolved identity always satisfies the hostId/hostName/group patterns. fuzz-needs: agent */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity_source src, none = { 0 }, fixed = { 0 };
	struct host_identity id;
	char *text, err[256];

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (identity_parse_host_info(text, &src) == 0) {
		/* fixed hostName and hostIp: no dependence on the machine (gethostname, getaddrinfo) */
		fixed.v[ID_HOST_NAME] = "fuzz-host";
		fixed.v[ID_HOST_IP] = "192.0.2.1";
		if (identity_resolve(&none, &src, &fixed, &id, err, sizeof(err)) == 0) {
			assert(str_charset_ok(id.v[ID_HOST_ID], "._-", 1, 64));
			assert(str_charset_ok(id.v[ID_HOST_NAME], "._-", 1, 64));
			for (size_t i = 0; i < id.n_groups; i++)
				assert(str_charset_ok(id.groups[i], "._:-", 1, 128));
			host_identity_release(&id);
		}
		identity_source_free_strings(&src);
	}
	free(text);
	return 0;
}
