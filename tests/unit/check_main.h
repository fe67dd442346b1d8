/*
 * check_main.h - the end of every unit test's main(): run the suite, return
 * the exit status automake's harness reads (0 pass, 1 fail).
 */
#ifndef CERTSYNC_CHECK_MAIN_H
#define CERTSYNC_CHECK_MAIN_H

#include <check.h>

/* nofork: run in one process, for suites whose fixtures are shared. */
static inline int
check_run(Suite *s, int nofork)
{
	SRunner *sr = srunner_create(s);
	int failed;

	if (nofork)
		srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

#endif
