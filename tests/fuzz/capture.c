/*
 * tests/fuzz/capture.c - seeds for the fuzz targets, taken from a real
 * directory server as certsyncd talks to it.
 *
 * Owns: connecting with certsync's own code (conf_load, ldapconn_open),
 * then two rounds of the change source the configuration names, with a
 * command run in between (the changes); writing what the server sent:
 *   OpenLDAP (syncrepl): each Sync State Control value (syncrepl/, selector
 *     0), Sync Info Message value (1) and Sync Done Control value (2), from a
 *     refreshOnly round without a cookie, one with its cookie after the
 *     command, and a refreshAndPersist start from that cookie; and every
 *     entry in fuzz_entry.h's encoding (identity/, flags 0).
 *   Active Directory (DirSync): each DirSync response control value
 *     (dirsync/, selector 0) of a full round and of the round after the
 *     command from its cookie, the highestCommittedUSN as a uSNChanged
 *     checkpoint (dirsync/, selector 1), every entry (identity/, flags 1),
 *     and for each object of the second round its stored copy from the
 *     first with the partial entry (adcopy/, as fuzz_adcopy.c reads them).
 * Usage: tests/fuzz/capture CONF OUTDIR [COMMAND [ARG...]]
 * (tests/fuzz/capture.sh runs it against the test harnesses' servers).
 * Never: writes to the directory or the state store; the command does the
 * changes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "directory/dirsync.h"
#include "directory/ldapconn.h"
#include "directory/syncrepl.h"
#include "fuzz_entry.h"
#include "lib/conf.h"
#include "lib/log.h"

#define USERS_FILTER "(&(objectClass=user)(!(objectClass=computer)))"	/* dirsync.c's */

static const char *outdir;
static int seq;

struct bytes {
	unsigned char *p;
	size_t len;
};

static void
add(struct bytes *b, const void *data, size_t len)
{
	if ((b->p = realloc(b->p, b->len + len + 1)) == NULL)
		fatal("out of memory");
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
add_u8(struct bytes *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	add(b, &c, 1);
}

static void
add_u16(struct bytes *b, size_t v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	if (v > 0xffff)
		fatal("a value of %zu bytes does not fit the seed encoding", v);
	add(b, x, 2);
}

static void
put(const char *target, const char *what, int selector, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s-%03d", outdir, target, what, ++seq);
	if ((f = fopen(path, "wb")) == NULL)
		fatal("%s: %s", path, strerror(errno));
	if (selector >= 0)
		fputc(selector, f);
	if ((len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		fatal("%s: write failed", path);
}

/* fuzz_entry.h's encoding of e. */
static void
put_entry(const char *what, unsigned flags, const struct dir_entry *e)
{
	struct bytes b = { NULL, 0 };
	size_t ulen = e->uuid ? strlen(e->uuid) : 0;

	add_u8(&b, flags);
	add_u16(&b, strlen(e->dn));
	add(&b, e->dn, strlen(e->dn));
	add_u8(&b, ulen);
	add(&b, e->uuid ? e->uuid : "", ulen);
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct dir_attr *a = &e->attrs[i];
		size_t k;

		for (k = 0; k < FUZZ_ENTRY_NNAMES; k++)
			if (strcmp(a->name, fuzz_entry_names[k]) == 0)
				break;
		if (k < FUZZ_ENTRY_NNAMES)
			add_u8(&b, 0xf0 + k);
		else {
			add_u8(&b, strlen(a->name));
			add(&b, a->name, strlen(a->name));
		}
		add_u8(&b, a->nvalues);
		for (size_t j = 0; j < a->nvalues; j++) {
			add_u16(&b, a->values[j].len);
			add(&b, a->values[j].val, a->values[j].len);
		}
	}
	put("identity", what, -1, b.p, b.len);
	free(b.p);
}

static void
run_command(char **argv)
{
	pid_t pid;
	int status;

	if (argv[0] == NULL)
		return;
	if ((pid = fork()) == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid == -1 || waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fatal("%s failed", argv[0]);
}

/* ---- OpenLDAP ---------------------------------------------------------- */

static void
sync_controls(LDAP *ld, LDAPMessage *msg, const char *oid, int selector, const char *what)
{
	LDAPControl **ctrls = NULL, *c;

	if (ldap_msgtype(msg) == LDAP_RES_SEARCH_ENTRY)
		ldap_get_entry_controls(ld, msg, &ctrls);
	else
		ldap_parse_result(ld, msg, NULL, NULL, NULL, NULL, &ctrls, 0);
	if ((c = ldap_control_find(oid, ctrls, NULL)) != NULL)
		put("syncrepl", what, selector, c->ldctl_value.bv_val, c->ldctl_value.bv_len);
	ldap_controls_free(ctrls);
}

/* One sync search; *cookie updated.  Persist mode stops at refreshDone. */
static void
sync_round(LDAP *ld, const struct conf *conf, int mode, struct berval *cookie)
{
	struct timeval tv = { 10, 0 };
	LDAPMessage *msg = NULL;
	int msgid, done = 0;

	if (syncrepl_search(ld, conf, mode, cookie->bv_val ? cookie : NULL, &msgid) !=
	    LDAP_SUCCESS)
		fatal("sync search failed");
	while (!done && ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg) > 0) {
		struct sync_event ev;
		int type = ldap_msgtype(msg);

		if (type == LDAP_RES_SEARCH_ENTRY)
			sync_controls(ld, msg, LDAP_CONTROL_SYNC_STATE, 0, "state");
		else if (type == LDAP_RES_SEARCH_RESULT)
			sync_controls(ld, msg, LDAP_CONTROL_SYNC_DONE, 2, "done");
		else if (type == LDAP_RES_INTERMEDIATE) {
			struct berval *data = NULL;
			char *oid = NULL;

			if (ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0) ==
			    LDAP_SUCCESS && data != NULL)
				put("syncrepl", "info", 1, data->bv_val, data->bv_len);
			ber_memfree(oid);
			ber_bvfree(data);
		}
		if (syncrepl_parse(ld, msg, &ev) == 0) {
			if (ev.type == SE_ENTRY)
				put_entry("slapd", 0, &ev.entry);
			if (ev.cookie.bv_val != NULL) {
				ber_memfree(cookie->bv_val);
				ber_dupbv(cookie, &ev.cookie);
			}
			done = ev.type == SE_DONE ||
			    (mode == LDAP_SYNC_REFRESH_AND_PERSIST && ev.refresh_done &&
			    (ev.type == SE_PRESENT_END || ev.type == SE_DELETE_END ||
			    ev.type == SE_IDSET));
		}
		sync_event_free(&ev);
		ldap_msgfree(msg);
	}
	if (!done)
		fatal("the sync search did not finish in time");
	ldap_abandon_ext(ld, msgid, NULL, NULL);
}

static void
capture_syncrepl(LDAP *ld, const struct conf *conf, char **command)
{
	struct berval cookie = { 0, NULL };

	sync_round(ld, conf, LDAP_SYNC_REFRESH_ONLY, &cookie);
	run_command(command);
	sync_round(ld, conf, LDAP_SYNC_REFRESH_ONLY, &cookie);
	sync_round(ld, conf, LDAP_SYNC_REFRESH_AND_PERSIST, &cookie);
	ber_memfree(cookie.bv_val);
}

/* ---- Active Directory ----------------------------------------------------- */

struct objects {
	struct dir_entry *v;
	size_t n;
};

/* One DirSync round from *cookie (all pages); entries into got. */
static void
dirsync_round(LDAP *ld, const struct conf *conf, const char *nc, struct berval *cookie,
    struct objects *got)
{
	int more = 1;

	while (more) {
		LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL, *c;
		struct berval none = { 0, (char *)"" }, next = { 0, NULL };
		struct timeval tv = { 30, 0 };
		LDAPMessage *res = NULL, *m;

		if (ldap_create_dirsync_control(ld, 0, 0, cookie->bv_val ? cookie : &none,
		    &ctrl) != LDAP_SUCCESS)
			fatal("cannot encode the DirSync control");
		ctrl->ldctl_iscritical = 1;
		ctrls[0] = ctrl;
		if (ldap_search_ext_s(ld, nc, LDAP_SCOPE_SUBTREE, USERS_FILTER,
		    syncrepl_wanted_attrs(conf, 1), 0, ctrls, NULL, &tv, 0, &res) != LDAP_SUCCESS)
			fatal("DirSync search failed");
		ldap_control_free(ctrl);
		for (m = ldap_first_entry(ld, res); m != NULL; m = ldap_next_entry(ld, m)) {
			struct dir_entry e;

			if (syncrepl_entry(ld, m, &e) == -1)
				continue;
			put_entry("samba", 1, &e);
			if ((got->v = realloc(got->v, (got->n + 1) * sizeof(*got->v))) == NULL)
				fatal("out of memory");
			got->v[got->n++] = e;
		}
		ldap_parse_result(ld, res, NULL, NULL, NULL, NULL, &rctrls, 0);
		if ((c = ldap_control_find(AD_OID_DIRSYNC, rctrls, NULL)) == NULL ||
		    ad_dirsync_decode(ld, &c->ldctl_value, &more, &next) == -1)
			fatal("no DirSync control in the answer");
		put("dirsync", "control", 0, c->ldctl_value.bv_val, c->ldctl_value.bv_len);
		ber_memfree(cookie->bv_val);
		*cookie = next;
		ldap_controls_free(rctrls);
		ldap_msgfree(res);
	}
}

/* [u16 length][stored copy][partial], as fuzz_adcopy.c reads it. */
static void
put_pair(const struct dir_entry *copy, const struct dir_entry *partial)
{
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct bytes out = { NULL, 0 };

	ad_pack(copy, &a, &alen);
	ad_pack(partial, &b, &blen);
	add_u16(&out, alen);
	add(&out, a, alen);
	add(&out, b, blen);
	put("adcopy", "samba", -1, out.p, out.len);
	free(a);
	free(b);
	free(out.p);
}

static void
capture_dirsync(LDAP *ld, const struct conf *conf, char **command)
{
	struct objects first = { NULL, 0 }, second = { NULL, 0 };
	struct berval cookie = { 0, NULL };
	struct ad_server server;
	char err[256], usn[24];

	if (ad_rootdse(ld, &server, err, sizeof(err)) == -1)
		fatal("%s", err);
	snprintf(usn, sizeof(usn), "%llu", (unsigned long long)server.highest_usn);
	put("dirsync", "usn", 1, usn, strlen(usn));
	dirsync_round(ld, conf, server.naming_context, &cookie, &first);
	run_command(command);
	dirsync_round(ld, conf, server.naming_context, &cookie, &second);
	for (size_t i = 0; i < second.n; i++)
		for (size_t k = 0; k < first.n; k++)
			if (strcmp(first.v[k].uuid, second.v[i].uuid) == 0)
				put_pair(&first.v[k], &second.v[i]);
	for (size_t i = 0; i < first.n; i++)
		dir_entry_free(&first.v[i]);
	for (size_t i = 0; i < second.n; i++)
		dir_entry_free(&second.v[i]);
	free(first.v);
	free(second.v);
	ber_memfree(cookie.bv_val);
	ad_server_free(&server);
}

int
main(int argc, char **argv)
{
	struct conf *conf = NULL;
	char err[512];
	LDAP *ld;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CONF OUTDIR [COMMAND [ARG...]]\n", argv[0]);
		return 64;
	}
	log_init("capture");
	outdir = argv[2];
	if (conf_load(argv[1], &conf) != 0)
		return 78;
	ldapconn_init_env(conf);
	if ((ld = ldapconn_open(conf, err, sizeof(err))) == NULL)
		fatal("%s", err);
	if (conf->directory.flavor == DIR_FLAVOR_AD)
		capture_dirsync(ld, conf, argv + 3);
	else
		capture_syncrepl(ld, conf, argv + 3);
	printf("capture: %d seed(s) in %s\n", seq, outdir);
	ldap_unbind_ext_s(ld, NULL, NULL);
	conf_free(conf);
	return 0;
}
