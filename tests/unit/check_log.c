/*
 * check_log.c - unit tests for log_guard.c: what keeps the log readable
 * while something is broken.
 *
 * A warning or error repeated word for word goes out 3 times in its
 * minute and is then counted; the count comes out as one line; notices are never held back;
 * each thread's first problem is kept for its caller; a quiet spell keeps
 * lines from the log and hands the first error on.  stderr is sent to a
 * file, read back per test (each test runs in a process of its own).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "lib/log.h"
#include "lib/log_guard.h"

static char errfile[] = "/tmp/check_log.XXXXXX";

static void
capture(void)
{
	int fd = mkstemp(errfile);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	log_init("t");
	log_set_level(LOG_LVL_INFO);
}

/* Lines of the captured stderr that contain what. */
static int
lines_with(const char *what)
{
	char line[4096];
	int n = 0;
	FILE *f;

	fflush(stderr);
	ck_assert_ptr_nonnull(f = fopen(errfile, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static void
release(void)
{
	unlink(errfile);
}

START_TEST(test_repeats_counted)
{
	capture();
	for (int i = 0; i < 300; i++)
		log_error("state store /x/state.db: record daemon state: database "
		    "or disk is full");
	/* 3 go out (an event that happens twice is no storm), the rest counted. */
	ck_assert_int_eq(lines_with("database or disk is full"), 3);
	log_flush();
	ck_assert_int_eq(lines_with("database or disk is full (297 more in the "
	    "last minute)"), 1);
	ck_assert_int_eq(lines_with("database or disk is full"), 4);
	release();
}
END_TEST

START_TEST(test_different_lines_pass)
{
	capture();
	for (int i = 0; i < 5; i++) {
		log_warn("user a: the step failed");
		log_warn("user b: the step failed");
	}
	ck_assert_int_eq(lines_with("user a: the step failed"), 3);
	ck_assert_int_eq(lines_with("user b: the step failed"), 3);
	/* The level is part of it: an error and a warning of one text differ. */
	log_error("user b: the step failed");
	ck_assert_int_eq(lines_with("user b: the step failed"), 4);
	release();
}
END_TEST

START_TEST(test_notices_never_held)
{
	capture();
	for (int i = 0; i < 5; i++)
		log_notice("directory ldap://x: refresh complete");
	ck_assert_int_eq(lines_with("refresh complete"), 5);
	release();
}
END_TEST

START_TEST(test_first_problem)
{
	capture();
	log_problem_clear();
	ck_assert_ptr_null(log_first_problem());
	log_info("nothing wrong");
	ck_assert_ptr_null(log_first_problem());
	log_error("cannot write /k/a.p12: No space left on device");
	log_error("state store: transaction rolled back after an error");
	ck_assert_str_eq(log_first_problem(), "cannot write /k/a.p12: No space left on device");
	log_problem_clear();
	ck_assert_ptr_null(log_first_problem());
	release();
}
END_TEST

START_TEST(test_quiet_spell)
{
	char why[256];

	capture();
	log_quiet_begin();
	log_notice("checking");
	log_error("[ca] key /x/ca.key: cannot open: No such file or directory");
	log_error("a consequence");
	log_quiet_end(why, sizeof(why));
	ck_assert_str_eq(why, "[ca] key /x/ca.key: cannot open: No such file or directory");
	ck_assert_int_eq(lines_with("ca.key"), 0);
	ck_assert_int_eq(lines_with("checking"), 0);
	log_error("after the spell");
	ck_assert_int_eq(lines_with("after the spell"), 1);
	log_quiet_begin();
	log_quiet_end(why, sizeof(why));
	ck_assert_str_eq(why, "");
	release();
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("guard");

	tcase_add_test(tc, test_repeats_counted);
	tcase_add_test(tc, test_different_lines_pass);
	tcase_add_test(tc, test_notices_never_held);
	tcase_add_test(tc, test_first_problem);
	tcase_add_test(tc, test_quiet_spell);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(log_suite(), 0);
}
