/* SPDX-License-Identifier: Apache-2.0 */
/* cli/cmd_build.c: `slipway build publish|list|show|tag|tags`. publish builds the body with the shared wire
 * model and checks it with the server's own input validator before sending it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "hash.h"
#include "http.h"
#include "jsonutil.h"
#include "parse.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

static const char publish_usage[] =
    "usage: slipway build publish --name NAME --repo REPO --branch BRANCH --commit SHA\n"
    "                             (--artifact-url URL) [--artifact FILE] [options] [--json]\n"
    "\n"
    "Register a build and print its id (--json: the whole build).\n"
    "  --name NAME            build name (must equal the stage's buildName to be deployable)\n"
    "  --artifact-url URL     where agents download it (https, http, s3 or file URL)\n"
    "  --repo REPO            source repository\n"
    "  --branch BRANCH        branch\n"
    "  --commit SHA           commit\n"
    "  --commit-short S       short commit (default: first 7 characters of --commit)\n"
    "  --commit-info TEXT     commit link or message (default: the server's scm_link_template)\n"
    "  --commit-date MS       commit time, epoch milliseconds (default: now)\n"
    "  --type SCM             SCM name (default: the server's default_scm)\n"
    "  --publish-info TEXT    e.g. the CI job (default UNKNOWN)\n"
    "  --publish-date MS      publish time, epoch milliseconds (default: now)\n"
    "  --sha256 HEX           artifact SHA-256 (agents verify it)\n"
    "  --artifact FILE        compute --sha256 from the local artifact file\n"
    "  --signature BASE64     Ed25519 signature of the artifact bytes (base64 of 64 bytes)\n";

static const char list_usage[] =
    "usage: slipway build list (--name NAME | --commit SHA) [--branch B] [--page N] [--size N] [--json]\n"
    "\n"
    "List builds, newest first, by name (optionally of one branch) or by commit (first 7 chars).\n";

static const char show_usage[] = "usage: slipway build show BUILD_ID [--json]\n"
				 "\n"
				 "Show one build.\n";

/* wire field → the flag that sets it, for error messages */
static const struct {
	const char *field, *flag;
} field_flags[] = {
    {"name", "--name"},
    {"artifactUrl", "--artifact-url"},
    {"repo", "--repo"},
    {"branch", "--branch"},
    {"commit", "--commit"},
    {"commitShort", "--commit-short"},
    {"commitInfo", "--commit-info"},
    {"commitDate", "--commit-date"},
    {"type", "--type"},
    {"publishInfo", "--publish-info"},
    {"publishDate", "--publish-date"},
    {"artifactSha256", "--sha256"},
    {"artifactSignature", "--signature"},
};

static int file_sha256(struct cli *c, const char *path, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	char data[65536];
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return cli_fail(c, r, "cannot open artifact '%s': %s", path, strerror(-r));
	}
	r = sha256_init(&ctx);
	if (r < 0) {
		close(fd);
		return cli_fail(c, r, "cannot hash '%s'", path);
	}
	for (;;) {
		n = read(fd, data, sizeof(data));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			sha256_release(&ctx);
			close(fd);
			return cli_fail(c, r == -EISDIR ? r : -EIO, "cannot read artifact '%s': %s", path,
					strerror(-r));
		}
		if (n == 0)
			break;
		r = sha256_update(&ctx, data, (size_t)n);
		if (r < 0) {
			sha256_release(&ctx);
			close(fd);
			return cli_fail(c, r, "cannot hash '%s'", path);
		}
	}
	close(fd);
	r = sha256_final_hex(&ctx, out);
	if (r < 0)
		return cli_fail(c, r, "cannot hash '%s'", path);
	return 0;
}

static int set_field(char **dst, const char *value)
{
	char *d = strdup(value);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* The options of `build publish` into b and *artifact: 0, 1 when the help was printed, or an error. */
static int publish_parse(struct cli *c, int argc, char **argv, struct build *b, const char **artifact)
{
	enum {
		O_NAME = 0x100,
		O_URL,
		O_REPO,
		O_BRANCH,
		O_COMMIT,
		O_SHORT,
		O_INFO,
		O_CDATE,
		O_TYPE,
		O_PINFO,
		O_PDATE,
		O_SHA,
		O_ARTIFACT,
		O_SIG
	};
	static const struct option opts[] = {
	    {"name", required_argument, NULL, O_NAME},
	    {"artifact-url", required_argument, NULL, O_URL},
	    {"repo", required_argument, NULL, O_REPO},
	    {"branch", required_argument, NULL, O_BRANCH},
	    {"commit", required_argument, NULL, O_COMMIT},
	    {"commit-short", required_argument, NULL, O_SHORT},
	    {"commit-info", required_argument, NULL, O_INFO},
	    {"commit-date", required_argument, NULL, O_CDATE},
	    {"type", required_argument, NULL, O_TYPE},
	    {"publish-info", required_argument, NULL, O_PINFO},
	    {"publish-date", required_argument, NULL, O_PDATE},
	    {"sha256", required_argument, NULL, O_SHA},
	    {"artifact", required_argument, NULL, O_ARTIFACT},
	    {"signature", required_argument, NULL, O_SIG},
	    CLI_COMMON_LONGOPTS,
	};
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		switch (opt) {
		case O_NAME:
			r = set_field(&b->name, optarg);
			break;
		case O_URL:
			r = set_field(&b->artifact_url, optarg);
			break;
		case O_REPO:
			r = set_field(&b->repo, optarg);
			break;
		case O_BRANCH:
			r = set_field(&b->branch, optarg);
			break;
		case O_COMMIT:
			r = set_field(&b->commit, optarg);
			break;
		case O_SHORT:
			r = set_field(&b->commit_short, optarg);
			break;
		case O_INFO:
			r = set_field(&b->commit_info, optarg);
			break;
		case O_TYPE:
			r = set_field(&b->type, optarg);
			break;
		case O_PINFO:
			r = set_field(&b->publish_info, optarg);
			break;
		case O_SHA:
			r = set_field(&b->artifact_sha256, optarg);
			break;
		case O_SIG:
			r = set_field(&b->artifact_signature, optarg);
			break;
		case O_ARTIFACT:
			*artifact = optarg;
			r = 0;
			break;
		case O_CDATE:
		case O_PDATE:
			r = parse_i64(optarg, 1, INT64_MAX, opt == O_CDATE ? &b->commit_date : &b->publish_date);
			if (r < 0)
				r = cli_usage_error(c, "build publish: %s wants epoch milliseconds, not '%s'",
						    argv[optind - 1], optarg);
			break;
		default:
			r = cli_bad_option(c, "build publish", argc, argv);
			break;
		}
		if (r < 0)
			return r;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", publish_usage);
		return 1;
	}
	if (optind < argc)
		return cli_usage_error(c, "build publish: unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The server's own validator on the body: catch mistakes before the round trip, naming the flag. */
static int publish_validate(struct cli *c, const json_t *body)
{
	struct build checked = {};
	struct proto_error perr = {};
	int r;

	r = build_input_from_json(body, &checked, &perr);
	build_release(&checked);
	if (r == -EINVAL) {
		const char *flag = perr.field;

		for (size_t i = 0; i < ELEMENTSOF(field_flags); i++)
			if (streq(field_flags[i].field, perr.field))
				flag = field_flags[i].flag;
		return cli_usage_error(c, "build publish: %s: %s", flag, perr.message);
	}
	return r;
}

static int build_publish(struct cli *c, int argc, char **argv)
{
	struct build b = {};
	const char *artifact = NULL;
	char hex[SHA256_HEX_LEN + 1];
	json_t *body = NULL, *created = NULL;
	int r;

	r = publish_parse(c, argc, argv, &b, &artifact);
	if (r != 0) {
		r = r > 0 ? 0 : r;
		goto out;
	}
	if (artifact) {
		r = file_sha256(c, artifact, hex);
		if (r < 0)
			goto out;
		if (b.artifact_sha256 && strcasecmp(b.artifact_sha256, hex) != 0) {
			r = cli_usage_error(c, "build publish: --sha256 does not match the SHA-256 of '%s' (%s)",
					    artifact, hex);
			goto out;
		}
		r = set_field(&b.artifact_sha256, hex);
		if (r < 0)
			goto out;
	}
	r = build_to_json(&b, &body);
	if (r < 0) {
		r = r == -EINVAL ? cli_usage_error(c, "build publish: arguments must be valid UTF-8") : r;
		goto out;
	}
	r = publish_validate(c, body);
	if (r < 0)
		goto out;
	r = http_requestf(c, "POST", NULL, body, &created, "/v1/builds");
	if (r < 0)
		goto out;
	r = cli_print_created(c, created, NULL);
out:
	json_decref(body);
	json_decref(created);
	build_release(&b);
	return r;
}

static void print_build(struct cli *c, const json_t *b)
{
	static const char *const keys[] = {
	    "id",	  "name",	"artifactUrl", "artifactSha256", "artifactSignature",
	    "type",	  "repo",	"branch",      "commit",	 "commitShort",
	    "commitInfo", "commitDate", "publishInfo", "publishDate",	 "publisher"};
	char buf[128];

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const json_t *v = json_object_get(b, keys[i]);
		const char *text =
		    strstr(keys[i], "Date") ? cli_json_time(v, buf, sizeof(buf)) : cli_json_text(v, buf, sizeof(buf));
		fprintf(c->out, "%-18s %s\n", keys[i], text);
	}
}

static int build_list(struct cli *c, int argc, char **argv)
{
	enum { O_NAME = 0x100, O_COMMIT, O_BRANCH, O_PAGE, O_SIZE };
	static const struct option opts[] = {
	    {"name", required_argument, NULL, O_NAME},	   {"commit", required_argument, NULL, O_COMMIT},
	    {"branch", required_argument, NULL, O_BRANCH}, {"page", required_argument, NULL, O_PAGE},
	    {"size", required_argument, NULL, O_SIZE},	   CLI_COMMON_LONGOPTS,
	};
	struct url_query q = {};
	const char *name = NULL, *commit = NULL, *branch = NULL, *page = NULL, *size = NULL;
	json_t *builds = NULL, *b;
	size_t i;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		switch (opt) {
		case O_NAME:
			name = optarg;
			break;
		case O_COMMIT:
			commit = optarg;
			break;
		case O_BRANCH:
			branch = optarg;
			break;
		case O_PAGE:
		case O_SIZE:
			r = cli_page_option(c, "build list", opt == O_PAGE ? "--page" : "--size", optarg,
					    opt == O_PAGE ? 1000000 : 1000);
			if (r < 0)
				return r;
			*(opt == O_PAGE ? &page : &size) = optarg;
			break;
		default:
			return cli_bad_option(c, "build list", argc, argv);
		}
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", list_usage);
		return 0;
	}
	if (optind < argc)
		return cli_usage_error(c, "build list: unexpected argument '%s'", argv[optind]);
	if (!name && !commit)
		return cli_usage_error(c, "build list: give --name or --commit");
	(void)url_query_add(&q, "name", name);
	(void)url_query_add(&q, "commit", commit);
	(void)url_query_add(&q, "branch", branch);
	(void)url_query_add(&q, "pageIndex", page);
	(void)url_query_add(&q, "pageSize", size);
	r = http_requestf(c, "GET", &q, NULL, &builds, "/v1/builds");
	if (r < 0)
		return r;
	if (!json_is_array(builds)) {
		json_decref(builds);
		return cli_fail(c, -EBADMSG, "the server's build list is not an array");
	}
	if (c->json) {
		r = cli_print_json(c, builds);
		json_decref(builds);
		return r;
	}
	fprintf(c->out, "%-30s %-20s %-16s %-8s %s\n", "ID", "NAME", "BRANCH", "COMMIT", "PUBLISHED");
	json_array_foreach(builds, i, b)
	{
		char t[5][128];

		fprintf(c->out, "%-30s %-20s %-16s %-8s %s\n", cli_json_text(json_object_get(b, "id"), t[0], 128),
			cli_json_text(json_object_get(b, "name"), t[1], 128),
			cli_json_text(json_object_get(b, "branch"), t[2], 128),
			cli_json_text(json_object_get(b, "commitShort"), t[3], 128),
			cli_json_time(json_object_get(b, "publishDate"), t[4], 128));
	}
	json_decref(builds);
	return 0;
}

static int build_show(struct cli *c, int argc, char **argv)
{
	json_t *b = NULL;
	char **args;
	int nargs, r;

	r = cli_parse_simple(c, "build show", show_usage, argc, argv, 1, 1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = http_requestf(c, "GET", NULL, NULL, &b, "/v1/builds/%s", args[0]);
	if (r < 0)
		return r;
	if (c->json)
		r = cli_print_json(c, b);
	else
		print_build(c, b);
	json_decref(b);
	return r;
}

/* ---- tags ---- */

static const char tag_usage[] =
    "usage: slipway build tag BUILD_ID (BAD_BUILD | GOOD_BUILD | CERTIFIED_BUILD) [--comment TEXT] [--json]\n"
    "\n"
    "Tag a build. BAD_BUILD also applies to every later build of the same repo and branch until a\n"
    "newer tag overrides it: deploys of such builds are refused without --force.\n"
    "  --comment TEXT   why (stored with the tag)\n";

static const char tags_usage[] = "usage: slipway build tags BUILD_ID [--json]\n"
				 "\n"
				 "Show the build's effective tag (its own, or inherited from an earlier build of its\n"
				 "repo and branch) and the tags set on this build, newest first.\n"
				 "--json prints {\"effective\": Tag or null, \"tags\": [Tag]}.\n";

static int build_tag(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"comment", required_argument, NULL, 0x100}, CLI_COMMON_LONGOPTS};
	static const char *const values[] = {"BAD_BUILD", "GOOD_BUILD", "CERTIFIED_BUILD"};
	const char *comment = NULL, *value = NULL, *id = NULL;
	json_t *body = NULL, *tag = NULL;
	int opt, r;

	cli_getopt_reset();
	while ((opt = cli_next_option(c, argc, argv, opts)) > 0) {
		if (opt != 0x100)
			return cli_bad_option(c, "build tag", argc, argv);
		comment = optarg;
	}
	if (opt < 0)
		return opt;
	if (c->help) {
		fprintf(c->out, "%s", tag_usage);
		return 0;
	}
	if (argc - optind != 2)
		return cli_usage_error(c, "build tag: give BUILD_ID and a tag (see 'slipway build tag --help')");
	for (size_t i = 0; i < ELEMENTSOF(values); i++)
		if (strcasecmp(argv[optind + 1], values[i]) == 0)
			value = values[i];
	if (!value)
		return cli_usage_error(c, "build tag: '%s' is not BAD_BUILD, GOOD_BUILD or CERTIFIED_BUILD",
				       argv[optind + 1]);
	body = json_pack("{s:s, s:s, s:s, s:s?}", "value", value, "targetType", "BUILD", "targetId", argv[optind],
			 "comments", comment);
	if (!body)
		return cli_usage_error(c, "build tag: arguments must be valid UTF-8");
	r = http_requestf(c, "POST", NULL, body, &tag, "/v1/tags");
	if (r == 0 && c->json)
		r = cli_print_json(c, tag);
	else if (r == 0) {
		(void)json_get_string(tag, "id", 64, &id);
		fprintf(c->out, "build %s tagged %s (tag %s)\n", argv[optind], value, id ? id : "?");
	}
	json_decref(body);
	json_decref(tag);
	return r;
}

/* Whether a BUILD tag was set on build_id (its metaInfo is the tagged build's JSON). */
static bool tag_is_on_build(const json_t *tag, const char *build_id)
{
	const char *meta = json_string_value(json_object_get(tag, "metaInfo")), *id = NULL;
	json_t *b = NULL;
	bool yes;

	if (!meta || json_parse_bounded(meta, strlen(meta), &b, NULL, 0) < 0)
		return false;
	yes = json_get_string(b, "id", 64, &id) == 0 && streq(id, build_id);
	json_decref(b);
	return yes;
}

static void print_tag(struct cli *c, const char *label, const json_t *t)
{
	char b[4][256];

	fprintf(c->out, "%-10s %-16s %-20s %-16s %s\n", label, cli_json_text(json_object_get(t, "value"), b[0], 256),
		cli_json_time(json_object_get(t, "createdDate"), b[1], 256),
		cli_json_text(json_object_get(t, "operator"), b[2], 256),
		cli_json_text(json_object_get(t, "comments"), b[3], 256));
}

static int build_tags(struct cli *c, int argc, char **argv)
{
	json_t *eff = NULL, *all = NULL, *mine = NULL, *out = NULL, *t;
	const char *name = NULL;
	char **args;
	int nargs, r;
	size_t i;

	r = cli_parse_simple(c, "build tags", tags_usage, argc, argv, 1, 1, &args, &nargs);
	if (r != 0)
		return r > 0 ? 0 : r;
	r = http_requestf(c, "GET", NULL, NULL, &eff, "/v1/builds/%s/tags", args[0]);
	if (r < 0)
		return r;
	if (json_get_string(json_object_get(eff, "build"), "name", 256, &name) < 0) {
		r = cli_fail(c, -EBADMSG, "the server's answer names no build");
		goto out;
	}
	r = http_requestf(c, "GET", NULL, NULL, &all, "/v1/tags/targets/%s", name);
	mine = json_array();
	if (r == 0 && !mine)
		r = -ENOMEM;
	if (r < 0)
		goto out;
	json_array_foreach(all, i, t) if (tag_is_on_build(t, args[0]) && json_array_append(mine, t) < 0) r = -ENOMEM;
	if (r < 0)
		goto out;
	if (c->json) {
		out = json_pack("{s:O, s:O}", "effective", json_object_get(eff, "tag"), "tags", mine);
		r = out ? cli_print_json(c, out) : -ENOMEM;
		goto out;
	}
	fprintf(c->out, "%-10s %-16s %-20s %-16s %s\n", "", "TAG", "CREATED", "OPERATOR", "COMMENT");
	if (json_is_object(json_object_get(eff, "tag")))
		print_tag(c, "effective", json_object_get(eff, "tag"));
	else
		fprintf(c->out, "%-10s %s\n", "effective", "-");
	json_array_foreach(mine, i, t) print_tag(c, "set", t);
out:
	json_decref(eff);
	json_decref(all);
	json_decref(mine);
	json_decref(out);
	return r;
}

const struct cmd build_commands[] = {
    {"publish", build_publish, "register a build"},
    {"list", build_list, "list builds by name or commit"},
    {"show", build_show, "show one build"},
    {"tag", build_tag, "tag a build BAD_BUILD, GOOD_BUILD or CERTIFIED_BUILD"},
    {"tags", build_tags, "show a build's effective tag and its own tags"},
};
const size_t build_n_commands = ELEMENTSOF(build_commands);

int cmd_build(struct cli *c, int argc, char **argv)
{
	return cmd_dispatch(c, "build", build_commands, build_n_commands, argc, argv);
}
