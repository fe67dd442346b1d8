/*
 * check_keypool.c - the key pool (pki/keypool.c): filled at nice 19 by its
 * fillers; hurried (a backlog), filled by threads at the caller's priority
 * while the fillers pause; taken keys are whole and never handed out twice.
 */
#include "config.h"

#include <sys/resource.h>
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/keypool.h"
#include "check_main.h"

static const struct key_spec ec = { KEY_ALG_EC, 0, "P-256", "ec:P-256" };

/* Polls (bounded: 30 s) until the pool holds want keys. */
static int
wait_level(struct keypool *p, int want)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 3000; i++) {
		if (keypool_level(p) == want)
			return 1;
		nanosleep(&t, NULL);
	}
	return 0;
}

/* This process's threads at nice value nice (from /proc/self/task). */
static int
threads_at(int nice)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[1024], *p;
		FILE *f;
		int field = 0, v = 99;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
			/* after "pid (comm)": state is field 3, nice field 19 */
			for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " "))
				if (++field == 17)
					v = atoi(tok);
		fclose(f);
		n += v == nice;
	}
	closedir(d);
	return n;
}

START_TEST(fills_at_nice_19)
{
	struct keypool *p = keypool_start(&ec, 3, 1);
	EVP_PKEY *k1, *k2;

	ck_assert_int_eq(keypool_size(p), 3);
	ck_assert(wait_level(p, 3));
	ck_assert_int_eq(threads_at(19), 1);	/* the filler */
	ck_assert_ptr_nonnull(k1 = keypool_take(p));
	ck_assert_ptr_nonnull(k2 = keypool_take(p));
	ck_assert(k1 != k2);
	ck_assert(wait_level(p, 3));	/* refilled */
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	keypool_stop(p);
}
END_TEST

START_TEST(hurried_at_callers_priority)
{
	struct keypool *p = keypool_start(&ec, 4, 2);
	int mine = getpriority(PRIO_PROCESS, 0), before;

	ck_assert(wait_level(p, 4));
	before = threads_at(mine);	/* this thread (and check's, if any) */
	keypool_hurry(p, 1);
	ck_assert_int_eq(threads_at(mine), before + 2);	/* two hurriers */
	ck_assert_int_eq(threads_at(19), 2);	/* the fillers, paused */
	for (int i = 0; i < 4; i++) {
		EVP_PKEY *k = keypool_take(p);	/* the hurriers refill meanwhile */

		ck_assert_ptr_nonnull(k);
		EVP_PKEY_free(k);
	}
	ck_assert(wait_level(p, 4));	/* filled by the hurriers */
	keypool_hurry(p, 0);
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(keypool_take(p));
	ck_assert(wait_level(p, 4));	/* by the fillers again */
	keypool_hurry(p, 1);	/* no more threads: the same ones */
	ck_assert_int_eq(threads_at(mine), before + 2);
	keypool_stop(p);	/* joins them all, hurried */
}
END_TEST

START_TEST(no_pool_no_threads)
{
	struct keypool *p = keypool_start(&ec, 0, 2);
	int mine = getpriority(PRIO_PROCESS, 0), before = threads_at(mine);

	keypool_hurry(p, 1);
	ck_assert_int_eq(threads_at(mine), before);
	ck_assert_ptr_null(keypool_take(p));
	keypool_stop(p);
}
END_TEST

int
main(void)
{
	Suite *s = NULL;
	TCase *tc = NULL;

	/* At nice 19 (make check under nice 19) the hurriers could not be
	 * told from the fillers. */
	if (getpriority(PRIO_PROCESS, 0) >= 19)
		return 77;
	s = suite_create("keypool");
	tc = tcase_create("keypool");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fills_at_nice_19);
	tcase_add_test(tc, hurried_at_callers_priority);
	tcase_add_test(tc, no_pool_no_threads);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
