/*
 * tests/fuzz/fuzz_syncrepl.c - RFC 4533 values from the server
 * (src/directory/syncrepl.c): the Sync State Control, the Sync Info
 * Message and the Sync Done Control, each decoded from its berval by the
 * functions syncrepl_parse() uses.
 *
 * Owns: the input as one selector byte (value % 3: 0 state, 1 info,
 * 2 done) and the value; the properties: a decoded uuid is 36 characters
 * of the 8-4-4-4-12 hex form, a uuid set holds no more uuids than 16-byte
 * values fit in the input, the event frees cleanly whatever was decoded.
 * Never: needs a server; tests/fuzz/capture.c took the seeds from slapd.
 */
#include "config.h"

#include "directory/syncrepl.h"
#include "fuzz.h"
#include "lib/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static void
check_uuid(const char *u)
{
	fuzz_check(strlen(u) == 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			fuzz_check(u[i] == '-');
		else
			fuzz_check(strchr("0123456789abcdef", u[i]) != NULL);
	}
}

static void
check_event(const struct sync_event *ev, size_t size)
{
	if (ev->cookie.bv_val == NULL)
		fuzz_check(ev->cookie.bv_len == 0);
	else
		fuzz_check(ev->cookie.bv_len <= size);
	fuzz_check(ev->nuuids <= size / 16);
	for (size_t i = 0; i < ev->nuuids; i++)
		check_uuid(ev->uuids[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berval value;
	struct sync_event ev;
	unsigned char *copy;
	int state = -1;

	if (size < 1)
		return 0;
	/* libldap hands a value over as its own allocation of that length. */
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	value.bv_val = (char *)copy;
	value.bv_len = size - 1;
	memset(&ev, 0, sizeof(ev));
	switch (data[0] % 3) {
	case 0:
		if (syncrepl_decode_state(&value, &ev, &state) == 0)
			check_uuid(ev.uuid);
		break;
	case 1:
		if (syncrepl_decode_info(&value, &ev) == 0)
			fuzz_check(ev.type == SE_COOKIE || ev.type == SE_DELETE_END ||
			    ev.type == SE_PRESENT_END || ev.type == SE_IDSET);
		break;
	case 2:
		syncrepl_decode_done(&value, &ev);
		break;
	}
	check_event(&ev, size);
	sync_event_free(&ev);
	free(copy);
	return 0;
}
