/*
 * check_gate.c - the safety catch's arithmetic: the limit a threshold
 * gives for a number of known users, and which passes are held.
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include "pipeline/gate.h"
#include "check_main.h"

static const struct threshold five_percent = { 1, 500 };

START_TEST(share_has_a_floor)
{
	/* 5% of 10 is 0: a small directory still lets a few go. */
	ck_assert_uint_eq(gate_limit(&five_percent, 0), GATE_FLOOR);
	ck_assert_uint_eq(gate_limit(&five_percent, 10), GATE_FLOOR);
	ck_assert_uint_eq(gate_limit(&five_percent, 79), GATE_FLOOR);
	ck_assert_uint_eq(gate_limit(&five_percent, 80), 4);
	ck_assert_uint_eq(gate_limit(&five_percent, 100), 5);
	ck_assert_uint_eq(gate_limit(&five_percent, 10000), 500);
	ck_assert_uint_eq(gate_limit(&five_percent, 123457), 6172);
}
END_TEST

START_TEST(share_rounds_down)
{
	struct threshold half = { 1, 50 }, all = { 1, 10000 }, odd = { 1, 1225 };

	ck_assert_uint_eq(gate_limit(&half, 599), GATE_FLOOR);
	ck_assert_uint_eq(gate_limit(&half, 1000), 5);
	ck_assert_uint_eq(gate_limit(&half, 1999), 9);
	ck_assert_uint_eq(gate_limit(&all, 42), 42);
	ck_assert_uint_eq(gate_limit(&odd, 100), 12);
	/* No overflow for a large directory. */
	ck_assert_uint_eq(gate_limit(&all, (size_t)1 << 40), (size_t)1 << 40);
}
END_TEST

START_TEST(count_is_exact)
{
	struct threshold twenty = { 0, 20 }, none = { 0, 0 };

	ck_assert_uint_eq(gate_limit(&twenty, 5), 20);
	ck_assert_uint_eq(gate_limit(&twenty, 100000), 20);
	/* 0: every departure waits for the admin. */
	ck_assert_uint_eq(gate_limit(&none, 100), 0);
	ck_assert_int_eq(gate_holds(&none, 1, 0, 100, NULL), 1);
}
END_TEST

START_TEST(more_than_the_limit_is_held)
{
	size_t limit = 0;

	/* 10 known users, limit 3: 3 go through, 4 are held. */
	ck_assert_int_eq(gate_holds(&five_percent, 3, 0, 10, &limit), 0);
	ck_assert_uint_eq(limit, 3);
	ck_assert_int_eq(gate_holds(&five_percent, 4, 0, 10, NULL), 1);
	/* The window counts: 2 this pass after 2 within the hour. */
	ck_assert_int_eq(gate_holds(&five_percent, 1, 2, 10, NULL), 0);
	ck_assert_int_eq(gate_holds(&five_percent, 2, 2, 10, NULL), 1);
	/* Nobody leaving is never held, whatever the window says. */
	ck_assert_int_eq(gate_holds(&five_percent, 0, 50, 10, NULL), 0);
}
END_TEST

START_TEST(everyone_leaving_is_held)
{
	struct threshold all = { 1, 10000 }, many = { 0, 1000 };

	/* Two users, both gone at once: held below the floor. */
	ck_assert_int_eq(gate_holds(&five_percent, 2, 0, 2, NULL), 1);
	ck_assert_int_eq(gate_holds(&five_percent, 1, 0, 2, NULL), 0);
	/* One user, gone: nothing to tell it from an accident; it goes. */
	ck_assert_int_eq(gate_holds(&five_percent, 1, 0, 1, NULL), 0);
	/* However generous the limit. */
	ck_assert_int_eq(gate_holds(&all, 10, 0, 10, NULL), 1);
	ck_assert_int_eq(gate_holds(&all, 9, 0, 10, NULL), 0);
	ck_assert_int_eq(gate_holds(&many, 500, 0, 500, NULL), 1);
	/* More than known (users the pass added and removed): held too. */
	ck_assert_int_eq(gate_holds(&many, 11, 0, 10, NULL), 1);
}
END_TEST

START_TEST(threshold_spelled_back)
{
	struct threshold t[] = { { 1, 500 }, { 1, 50 }, { 1, 1225 }, { 0, 20 },
	    { 1, 10000 } };
	const char *want[] = { "5%", "0.5%", "12.25%", "20", "100%" };
	char buf[32];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		gate_threshold_text(&t[i], buf, sizeof(buf));
		ck_assert_str_eq(buf, want[i]);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("arithmetic");

	tcase_add_test(tc, share_has_a_floor);
	tcase_add_test(tc, share_rounds_down);
	tcase_add_test(tc, count_is_exact);
	tcase_add_test(tc, more_than_the_limit_is_held);
	tcase_add_test(tc, everyone_leaving_is_held);
	tcase_add_test(tc, threshold_spelled_back);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
