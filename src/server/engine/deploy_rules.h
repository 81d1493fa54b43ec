/* SPDX-License-Identifier: Apache-2.0 */
/* engine/deploy_rules.h: the rules a build must pass before a deploy of it is created (PROTOCOL §7.1), and the
 * effective tag of a build (§4.9) that the BAD_BUILD rule reads. PURE like the rest of engine/: the service layer
 * (deploy/) loads the stage, the build and the build's tags, and turns a verdict into a refusal. */
#ifndef SLIPWAY_ENGINE_DEPLOY_RULES_H
#define SLIPWAY_ENGINE_DEPLOY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the rules see of the build to deploy and of the stage it goes to. */
struct engine_deploy_check {
	int type;                     /* enum deploy_type of the deploy to create (PROMOTE creates a REGULAR) */
	bool force;                   /* the request said force=true (the server's own deploys never force) */
	const char *stage_build_name; /* the stage's buildName */
	bool stage_signed;            /* the stage has a signingKey */
	const char *build_name;
	bool build_signed;            /* the build has an artifactSignature */
	bool build_bad;               /* the build's effective tag is BAD_BUILD; read only when engine_deploy_reads_tag() */
};

enum engine_deploy_verdict {
	ENGINE_DEPLOY_ALLOWED,
	ENGINE_DEPLOY_WRONG_NAME, /* REGULAR: the build's name is not the stage's buildName (400) */
	ENGINE_DEPLOY_UNSIGNED,   /* the stage requires signed builds and this one is not (400) */
	ENGINE_DEPLOY_BAD_BUILD,  /* tagged BAD_BUILD and not forced (409) */
};

/* Whether the verdict depends on build_bad, so the caller reads the build's tags only then: never for RESTART
 * (it redeploys the current build as it is) nor when forced. */
bool engine_deploy_reads_tag(int type, bool force);
/* The rules in order: name (REGULAR only), signature, BAD_BUILD. RESTART is always allowed. */
enum engine_deploy_verdict engine_deploy_check_build(const struct engine_deploy_check *c);

/* A build as the tag rule compares it: commit, repo, branch and commitDate (epoch ms). */
struct engine_build_ref {
	const char *commit; /* NULL: a tag without a readable tagged build (not a BUILD tag, or bad metaInfo) */
	const char *repo;
	const char *branch;
	int64_t commit_date;
};

/* One BUILD tag of the build's name: the build it was set on (from its metaInfo) and when. */
struct engine_build_tag {
	struct engine_build_ref tagged;
	int64_t created_date;
};

/* §4.9: walk the tagged builds whose commitDate is not after the build's, newest commitDate first (ties: the newer
 * tag first, then input order), keeping only the newest tag of each tagged commit; the first whose commit is the
 * build's, or whose repo and branch are the build's, is the effective tag. *ret_index is its index in tags.
 * Returns 0, -ENOENT when no tag applies, or -ENOMEM. */
int engine_build_effective_tag(const struct engine_build_ref *build, const struct engine_build_tag *tags, size_t n,
			       size_t *ret_index);

#endif
