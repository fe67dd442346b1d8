/*
 * check_keypool.c - the key pool (pki/keypool.c): filled at nice 19 by its
 * fillers; hurried (a backlog), filled by threads at the caller's priority
 * while the fillers pause, and waited on by keypool_take_wait() for as long
 * as it is hurried and no longer than asked; a key is handed out once.
 * EC P-256 keys (a millisecond each); a curve no library knows stands for
 * a pool that cannot make keys.
 */
#include "config.h"

#include <sys/resource.h>
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "pki/keypool.h"
#include "check_main.h"

static const struct key_spec ec = { KEY_ALG_EC, 0, "P-256", "ec:P-256" };
static const struct key_spec none = { KEY_ALG_EC, 0, "no-such-curve", "ec:none" };

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

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The nice value of a /proc/self/task/TID/stat line (field 19), or 99. */
static int
nice_of(const char *tid)
{
	char path[300], buf[1024], *p;
	FILE *f;
	int field = 0, v = 99;

	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	if ((f = fopen(path, "r")) == NULL)
		return v;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		/* after "pid (comm)": state is field 3, nice field 19 */
		for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " "))
			if (++field == 17)
				v = atoi(tok);
	fclose(f);
	return v;
}

/* This process's threads at nice value nice. */
static int
threads_at(int nice)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' && nice_of(e->d_name) == nice;
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
	ck_assert(!keypool_hurried(p));
	ck_assert_ptr_nonnull(k1 = keypool_take(p));
	ck_assert_ptr_nonnull(k2 = keypool_take(p));
	ck_assert(k1 != k2);
	ck_assert(wait_level(p, 3));	/* refilled */
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	keypool_stop(p);
}
END_TEST

/* Hurried: two threads at this priority, the fillers paused; many more
 * keys than the pool holds come out of keypool_take_wait(), each once. */
START_TEST(hurried_at_callers_priority)
{
	struct keypool *p = keypool_start(&ec, 4, 2);
	int mine = getpriority(PRIO_PROCESS, 0), before;
	EVP_PKEY *got[40];

	ck_assert(wait_level(p, 4));
	before = threads_at(mine);	/* this thread (and check's, if any) */
	keypool_hurry(p, 1);
	ck_assert(keypool_hurried(p));
	ck_assert_int_eq(threads_at(mine), before + 2);	/* two hurriers */
	ck_assert_int_eq(threads_at(19), 2);	/* the fillers, paused */
	for (int i = 0; i < 40; i++) {
		ck_assert_ptr_nonnull(got[i] = keypool_take_wait(p, 30000));
		for (int j = 0; j < i; j++)
			ck_assert(got[j] != got[i]);
	}
	for (int i = 0; i < 40; i++)
		EVP_PKEY_free(got[i]);
	ck_assert(wait_level(p, 4));	/* filled by the hurriers */
	keypool_hurry(p, 0);
	ck_assert(!keypool_hurried(p));
	for (int i = 0; i < 4; i++)
		EVP_PKEY_free(keypool_take(p));
	ck_assert(wait_level(p, 4));	/* by the fillers again */
	keypool_hurry(p, 1);	/* no more threads: the same ones */
	ck_assert_int_eq(threads_at(mine), before + 2);
	keypool_stop(p);	/* joins them all, hurried */
}
END_TEST

/* A pool that makes no key: not hurried, keypool_take_wait() does not
 * wait; hurried, it waits as long as asked, then gives up. */
START_TEST(waits_only_hurried_and_bounded)
{
	struct keypool *p = keypool_start(&none, 2, 1);
	double t;

	t = now();
	ck_assert_ptr_null(keypool_take_wait(p, 20000));
	ck_assert(now() - t < 5.0);
	keypool_hurry(p, 1);
	t = now();
	ck_assert_ptr_null(keypool_take_wait(p, 300));
	ck_assert(now() - t >= 0.29);
	ck_assert(now() - t < 10.0);
	keypool_stop(p);
}
END_TEST

START_TEST(no_pool_no_threads)
{
	struct keypool *p = keypool_start(&ec, 0, 2);
	int mine = getpriority(PRIO_PROCESS, 0), before = threads_at(mine);

	keypool_hurry(p, 1);
	ck_assert_int_eq(threads_at(mine), before);
	ck_assert(!keypool_hurried(p));
	ck_assert_ptr_null(keypool_take(p));
	ck_assert_ptr_null(keypool_take_wait(p, 20000));
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
	log_init("check_keypool");
	s = suite_create("keypool");
	tc = tcase_create("keypool");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fills_at_nice_19);
	tcase_add_test(tc, hurried_at_callers_priority);
	tcase_add_test(tc, waits_only_hurried_and_bounded);
	tcase_add_test(tc, no_pool_no_threads);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
